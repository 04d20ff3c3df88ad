import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { hashPassword, verifyPassword } from "../../auth/password.ts";
import { type LoginLimits, loginKeys, releaseLoginAttempt, reserveLoginAttempt } from "../../auth/rate-limit.ts";
import { createSession, type SessionUser } from "../../auth/session.ts";
import { AppError } from "../../errors.ts";

let timingDecoyHash: Promise<string> | undefined;

/**
 * Unknown usernames still pay for one argon2 verification, so response time does not reveal
 * which usernames exist.
 */
function decoyHash(): Promise<string> {
  timingDecoyHash ??= hashPassword(`decoy-${crypto.randomUUID()}`);
  return timingDecoyHash;
}

export async function signIn(options: {
  db: PrismaClient;
  username: string;
  password: string;
  ttlHours: number;
  clientAddress: string;
  limits?: LoginLimits;
}): Promise<{ token: string; expiresAt: Date; user: SessionUser }> {
  const { db, username, password, ttlHours, clientAddress } = options;
  const keys = loginKeys(clientAddress, username);

  // Counted before argon2 runs: concurrent guesses each take a slot, so a batch cannot run
  // more of them than the limit allows.
  const waitMs = await reserveLoginAttempt({ db, keys, limits: options.limits });
  if (waitMs > 0) {
    throw new AppError("RATE_LIMITED", {
      message: `sign-in rate limit for ${username.toLowerCase()} from ${clientAddress}`,
      userMessage: `Too many failed sign-ins from your address. Try again in ${Math.ceil(waitMs / 60_000)} minute(s).`,
    });
  }

  const user = await db.user.findUnique({
    where: { username },
    select: { id: true, username: true, role: true, disabled: true, passwordHash: true },
  });
  const passwordOk = await verifyPassword(user?.passwordHash ?? (await decoyHash()), password);
  if (!user || !passwordOk) throw new AppError("INVALID_CREDENTIALS");
  // Checked after the password so that the answer does not reveal account state to guessers.
  if (user.disabled) throw new AppError("ACCOUNT_DISABLED");

  await releaseLoginAttempt({ db, keys });
  const { token, expiresAt } = await createSession({ db, userId: user.id, ttlHours });
  return { token, expiresAt, user: { id: user.id, username: user.username, role: user.role } };
}
