// Sign-in limits, kept in PostgreSQL ("LoginThrottle") so that every web replica shares them.
// An attempt is counted before argon2 runs, in one atomic upsert: concurrent guesses (a batch,
// many connections) each see their own count, so no more than the limit ever reach the password
// check. A successful sign-in gives its reservation back. Keys are the client address (a budget
// for password spraying) and the address × username (a guesser from one address). There is no
// username-wide lock: it would let anyone lock the real owner (e.g. `admin`) out.
import type { PrismaClient } from "../../generated/prisma/client.ts";

export interface LoginLimitRule {
  maxFailures: number;
  windowMs: number;
}

export interface LoginLimits {
  /** failures from one address against one username */
  byAddressAndUsername: LoginLimitRule;
  /** failures from one address against any usernames (an office behind one NAT shares it) */
  byAddress: LoginLimitRule;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = {
  byAddressAndUsername: { maxFailures: 10, windowMs: 15 * 60_000 },
  byAddress: { maxFailures: 100, windowMs: 15 * 60_000 },
};

export interface LoginKeys {
  pair: string;
  address: string;
}

export function loginKeys(clientAddress: string, username: string): LoginKeys {
  return { pair: `pair:${clientAddress}|${username.toLowerCase()}`, address: `addr:${clientAddress}` };
}

const SWEEP_INTERVAL_MS = 60_000;
const lastSweep = new WeakMap<object, number>();

async function sweep(db: PrismaClient, windowMs: number, now: Date): Promise<void> {
  if ((lastSweep.get(db) ?? 0) + SWEEP_INTERVAL_MS > now.getTime()) return;
  lastSweep.set(db, now.getTime());
  await db.$executeRaw`DELETE FROM "LoginThrottle" WHERE "windowStart" <= ${new Date(now.getTime() - windowMs)}`;
}

/**
 * Counts one attempt against each key; returns 0 when it may go ahead, else the milliseconds
 * until the fullest window ends. Refused attempts are counted too (they are attempts).
 */
export async function reserveLoginAttempt(options: {
  db: PrismaClient;
  keys: LoginKeys;
  limits?: LoginLimits;
  now?: Date;
}): Promise<number> {
  const { db, keys } = options;
  const limits = options.limits ?? DEFAULT_LOGIN_LIMITS;
  const now = options.now ?? new Date();
  const rules = new Map([
    [keys.address, limits.byAddress],
    [keys.pair, limits.byAddressAndUsername],
  ]);
  const windowMs = Math.max(limits.byAddress.windowMs, limits.byAddressAndUsername.windowMs);
  await sweep(db, windowMs, now);
  let retryAfterMs = 0;
  // Keys in a fixed order, so that two concurrent upserts of the same keys cannot deadlock.
  for (const key of [...rules.keys()].sort()) {
    const rule = rules.get(key)!;
    const cutoff = new Date(now.getTime() - rule.windowMs);
    const [row] = await db.$queryRaw<{ failures: number; windowStart: Date }[]>`
      INSERT INTO "LoginThrottle" (key, failures, "windowStart") VALUES (${key}, 1, ${now})
      ON CONFLICT (key) DO UPDATE SET
        failures = CASE WHEN "LoginThrottle"."windowStart" <= ${cutoff} THEN 1 ELSE "LoginThrottle".failures + 1 END,
        "windowStart" = CASE WHEN "LoginThrottle"."windowStart" <= ${cutoff} THEN ${now} ELSE "LoginThrottle"."windowStart" END
      RETURNING failures, "windowStart"`;
    if (row!.failures > rule.maxFailures) {
      retryAfterMs = Math.max(retryAfterMs, row!.windowStart.getTime() + rule.windowMs - now.getTime(), 1);
    }
  }
  return retryAfterMs;
}

/** A successful sign-in: the address gets its attempt back and the pair starts afresh. */
export async function releaseLoginAttempt(options: { db: PrismaClient; keys: LoginKeys }): Promise<void> {
  const { db, keys } = options;
  await db.$executeRaw`DELETE FROM "LoginThrottle" WHERE key = ${keys.pair}`;
  await db.$executeRaw`UPDATE "LoginThrottle" SET failures = GREATEST(failures - 1, 0) WHERE key = ${keys.address}`;
}
