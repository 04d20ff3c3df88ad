import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { hashPassword } from "../../auth/password.ts";
import { isUniqueViolation } from "../../db/unique-violation.ts";
import { AppError } from "../../errors.ts";

export async function createLabeler(options: { db: PrismaClient; username: string; password: string }) {
  const { db, username, password } = options;
  // Usernames differing only in case would be confusing to sign in with, so refuse them.
  const clash = await db.user.findFirst({
    where: { username: { equals: username, mode: "insensitive" } },
    select: { id: true },
  });
  if (clash) throw new AppError("USERNAME_TAKEN", { message: `username ${username} exists` });
  const passwordHash = await hashPassword(password);
  try {
    return await db.user.create({
      data: { username, passwordHash, role: "LABELER" },
      select: { id: true, username: true, role: true, disabled: true, createdAt: true },
    });
  } catch (err) {
    // Two admins creating the same name at once: the unique index decides.
    if (isUniqueViolation(err)) throw new AppError("USERNAME_TAKEN", { cause: err });
    throw err;
  }
}
