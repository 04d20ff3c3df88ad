import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { forgetUserSessions } from "../../auth/session.ts";
import { AppError } from "../../errors.ts";

/** Disabling also ends every session of that user, so it takes effect immediately. */
export async function setUserDisabled(options: { db: PrismaClient; userId: string; disabled: boolean; actorId: string }) {
  const { db, userId, disabled, actorId } = options;
  if (disabled && userId === actorId) {
    throw new AppError("INVALID_REQUEST", { userMessage: "You cannot disable your own account." });
  }
  const user = await db.$transaction(async (tx) => {
    const target = await tx.user.findUnique({ where: { id: userId }, select: { id: true, role: true } });
    if (!target) throw new AppError("NOT_FOUND", { userMessage: "No such user." });
    if (disabled && target.role === "ADMIN") {
      throw new AppError("INVALID_REQUEST", { userMessage: "Admin accounts cannot be disabled here." });
    }
    const user = await tx.user.update({
      where: { id: userId },
      data: { disabled },
      select: { id: true, username: true, role: true, disabled: true },
    });
    if (disabled) await tx.session.deleteMany({ where: { userId } });
    return user;
  });
  if (disabled) forgetUserSessions(db, userId);
  return user;
}
