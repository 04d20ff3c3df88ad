// Input building blocks shared by routers. Every string has a max length so a huge body is
// refused by validation, not by the database.
import { z } from "zod";

export const idSchema = z.string().trim().min(1, "Required").max(64, "Too long (max 64 characters)");

export const usernameSchema = z
  .string()
  .trim()
  .min(3, "At least 3 characters")
  .max(32, "At most 32 characters")
  .regex(/^[a-zA-Z0-9_.-]+$/, "Only letters, digits, _ . and -");

export const newPasswordSchema = z
  .string()
  .min(8, "At least 8 characters")
  .max(200, "At most 200 characters");
