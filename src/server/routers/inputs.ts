// Input building blocks shared by routers. Every string has a max length so a huge body is
// refused by validation, not by the database.
import { z } from "zod";

/** PostgreSQL text cannot hold NUL; refuse it here so it is a 400, not a database error. */
export function text(options: { min?: number; max: number; trim?: boolean }) {
  const base = options.trim === false ? z.string() : z.string().trim();
  return base
    .min(options.min ?? 1, options.min && options.min > 1 ? `At least ${options.min} characters` : "Required")
    .max(options.max, `At most ${options.max} characters`)
    .refine((v) => !v.includes("\u0000"), "Must not contain NUL characters");
}

/** Row ids (cuid or numeric-as-string): short and URL-safe, so anything else is refused early. */
export const idSchema = z
  .string()
  .trim()
  .min(1, "Required")
  .max(64, "At most 64 characters")
  .regex(/^[A-Za-z0-9_-]+$/, "Not a valid id");

export const usernameSchema = z
  .string()
  .trim()
  .min(3, "At least 3 characters")
  .max(32, "At most 32 characters")
  .regex(/^[a-zA-Z0-9_.-]+$/, "Only letters, digits, _ . and -");

export const newPasswordSchema = text({ min: 8, max: 200, trim: false });
