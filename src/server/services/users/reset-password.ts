import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { hashPassword } from "../../auth/password.ts";
import { forgetUserSessions } from "../../auth/session.ts";
import { AppError } from "../../errors.ts";

/** Sets a new password and signs the user out everywhere (the old password may be compromised). */
export async function resetPassword(options: { db: PrismaClient; userId: string; password: string }) {
  const { db, userId, password } = options;
  const passwordHash = await hashPassword(password);
  const result = await db.$transaction(async (tx) => {
    const exists = await tx.user.findUnique({ where: { id: userId }, select: { id: true } });
    if (!exists) throw new AppError("NOT_FOUND", { userMessage: "No such user." });
    await tx.user.update({ where: { id: userId }, data: { passwordHash } });
    const { count } = await tx.session.deleteMany({ where: { userId } });
    return { id: userId, sessionsEnded: count };
  });
  forgetUserSessions(db, userId);
  return result;
}
