// Sessions: the browser holds 32 random bytes; the database holds only sha256(token), so a
// leaked database dump cannot be replayed as cookies.
import { createHash, randomBytes } from "node:crypto";
import type { PrismaClient } from "../../generated/prisma/client.ts";
import type { Role } from "../../generated/prisma/enums.ts";
import { getEnv } from "../env.ts";

export const SESSION_COOKIE = "dpo_session";

export interface SessionUser {
  id: string;
  username: string;
  role: Role;
}

export function hashSessionToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export async function createSession(options: {
  db: PrismaClient;
  userId: string;
  ttlHours: number;
  now?: Date;
}): Promise<{ token: string; expiresAt: Date }> {
  const token = randomBytes(32).toString("base64url");
  const expiresAt = new Date((options.now ?? new Date()).getTime() + options.ttlHours * 3_600_000);
  await options.db.session.create({ data: { id: hashSessionToken(token), userId: options.userId, expiresAt } });
  return { token, expiresAt };
}

// Every request looks its session up, so valid sessions are kept in memory for a few seconds
// (SESSION_CACHE_SECONDS, 0 turns it off). Sign-out, disabling a user and a password reset in
// this process forget the user's entries at once; another web process sees them within the TTL.
interface CachedSession {
  user: SessionUser;
  expiresAt: number;
  cachedUntil: number;
}
const MAX_CACHED_SESSIONS = 10_000;
const sessionCaches = new WeakMap<object, Map<string, CachedSession>>();

function sessionCache(db: PrismaClient): Map<string, CachedSession> | null {
  if (getEnv().SESSION_CACHE_SECONDS === 0) return null;
  let cache = sessionCaches.get(db);
  if (!cache) sessionCaches.set(db, (cache = new Map()));
  return cache;
}

/** Drops a user's cached sessions (after disabling them, resetting their password, …). */
export function forgetUserSessions(db: PrismaClient, userId: string): void {
  const cache = sessionCaches.get(db);
  if (!cache) return;
  for (const [id, entry] of cache) if (entry.user.id === userId) cache.delete(id);
}

/** The signed-in user for a cookie token, or null if unknown, expired or disabled. */
export async function getSessionUser(options: {
  db: PrismaClient;
  token: string | undefined | null;
  now?: Date;
}): Promise<{ user: SessionUser; sessionId: string } | null> {
  const { db, token } = options;
  // Real tokens are 43 base64url chars; anything else cannot match and skips the query.
  if (!token || token.length > 128) return null;
  const sessionId = hashSessionToken(token);
  const now = (options.now ?? new Date()).getTime();
  const cache = sessionCache(db);
  const cached = cache?.get(sessionId);
  if (cached && cached.cachedUntil > now && cached.expiresAt > now) return { user: cached.user, sessionId };
  cache?.delete(sessionId);

  const session = await db.session.findUnique({
    where: { id: sessionId },
    select: { expiresAt: true, user: { select: { id: true, username: true, role: true, disabled: true } } },
  });
  if (!session) return null;
  if (session.expiresAt.getTime() <= now) {
    await db.session.deleteMany({ where: { id: sessionId } });
    return null;
  }
  if (session.user.disabled) return null;
  const { id, username, role } = session.user;
  if (cache) {
    if (cache.size >= MAX_CACHED_SESSIONS) cache.clear();
    cache.set(sessionId, {
      user: { id, username, role },
      expiresAt: session.expiresAt.getTime(),
      cachedUntil: now + getEnv().SESSION_CACHE_SECONDS * 1000,
    });
  }
  return { user: { id, username, role }, sessionId };
}

export async function deleteSession(options: { db: PrismaClient; token: string }): Promise<void> {
  const sessionId = hashSessionToken(options.token);
  sessionCaches.get(options.db)?.delete(sessionId);
  await options.db.session.deleteMany({ where: { id: sessionId } });
}

/** Expired rows are also removed when presented; this sweeps the ones never seen again. */
export async function deleteExpiredSessions(options: { db: PrismaClient; now?: Date }): Promise<number> {
  const { count } = await options.db.session.deleteMany({ where: { expiresAt: { lte: options.now ?? new Date() } } });
  return count;
}

export function readCookie(cookieHeader: string | null | undefined, name: string): string | undefined {
  if (!cookieHeader) return undefined;
  for (const part of cookieHeader.split(";")) {
    const eq = part.indexOf("=");
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() === name) {
      const raw = part.slice(eq + 1).trim();
      try {
        return decodeURIComponent(raw);
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** Secure only over https, so plain-http localhost sign-in still works. */
export function sessionCookie(token: string, expiresAt: Date, secure: boolean): string {
  const attrs = [
    `${SESSION_COOKIE}=${token}`,
    "Path=/",
    "HttpOnly",
    "SameSite=Lax",
    `Expires=${expiresAt.toUTCString()}`,
    `Max-Age=${Math.max(0, Math.floor((expiresAt.getTime() - Date.now()) / 1000))}`,
  ];
  if (secure) attrs.push("Secure");
  return attrs.join("; ");
}

export function clearedSessionCookie(secure: boolean): string {
  const attrs = [`${SESSION_COOKIE}=`, "Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=0", "Expires=Thu, 01 Jan 1970 00:00:00 GMT"];
  if (secure) attrs.push("Secure");
  return attrs.join("; ");
}

/** https either directly or behind a TLS-terminating proxy. */
export function isHttpsRequest(headers: Headers, url?: string): boolean {
  const forwarded = headers.get("x-forwarded-proto")?.split(",")[0]?.trim().toLowerCase();
  if (forwarded) return forwarded === "https";
  return url ? url.startsWith("https:") : false;
}
