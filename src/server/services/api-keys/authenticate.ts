// Who is calling with `Authorization: Bearer <key>`: the key's row (read on every request, so
// a revoked key is refused at once on every web replica), its scope, and its rate limit.
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { type ApiKeyScope, hashApiKey, hasScope } from "./keys.ts";

export interface AuthenticatedKey {
  id: string;
  name: string;
  scopes: string[];
}

export type KeyCheck =
  | { ok: true; key: AuthenticatedKey }
  | {
      ok: false;
      status: 401 | 403 | 429;
      reason: "missing" | "invalid" | "revoked" | "scope" | "rate_limited";
      message: string;
      retryAfterSeconds?: number;
    };

/** The key in an Authorization header, or null when there is no Bearer credential. */
export function bearerToken(header: string | null): string | null {
  const m = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return m ? m[1]! : null;
}

const WINDOW_MS = 60_000;
/** lastUsedAt is written at most this often per key: it is for humans, not for accounting */
const LAST_USED_RESOLUTION_MS = 30_000;

export async function checkApiKey(opts: {
  db: PrismaClient;
  authorization: string | null;
  scope: ApiKeyScope;
  now?: Date;
}): Promise<KeyCheck> {
  const { db, scope } = opts;
  const token = bearerToken(opts.authorization);
  if (!token) {
    return {
      ok: false,
      status: 401,
      reason: "missing",
      message:
        "You didn't provide an API key. Send it in an Authorization header: `Authorization: Bearer YOUR_KEY` (admins create keys under Admin → API keys or with `npm run cli -- api-keys create`).",
    };
  }
  const row = await db.apiKey.findUnique({
    where: { hash: hashApiKey(token) },
    select: { id: true, name: true, scopes: true, revokedAt: true, rateLimitPerMinute: true },
  });
  if (!row)
    return {
      ok: false,
      status: 401,
      reason: "invalid",
      message: "Incorrect API key provided. Check the key, or ask an admin for a new one.",
    };
  if (row.revokedAt)
    return { ok: false, status: 401, reason: "revoked", message: "This API key has been revoked. Ask an admin for a new one." };
  if (!hasScope(row.scopes, scope)) {
    return {
      ok: false,
      status: 403,
      reason: "scope",
      message: `This API key lacks the "${scope}" scope (it has: ${row.scopes.join(", ")}). Ask an admin for a key with that scope.`,
    };
  }
  const now = opts.now ?? new Date();
  const windowStart = new Date(Math.floor(now.getTime() / WINDOW_MS) * WINDOW_MS);
  // One statement counts the request in this key's window and stamps lastUsedAt (throttled),
  // so every replica sees the same count and a denied request still shows the key was used.
  const [usage] = await db.$queryRaw<{ count: number }[]>`
    WITH used AS (
      UPDATE "ApiKey" SET "lastUsedAt" = ${now}
      WHERE id = ${row.id} AND ("lastUsedAt" IS NULL OR "lastUsedAt" < ${new Date(now.getTime() - LAST_USED_RESOLUTION_MS)})
    )
    INSERT INTO "ApiKeyUsage" ("apiKeyId", "windowStart", count) VALUES (${row.id}, ${windowStart}, 1)
    ON CONFLICT ("apiKeyId", "windowStart") DO UPDATE SET count = "ApiKeyUsage".count + 1
    RETURNING count`;
  const count = usage?.count ?? 1;
  if (count === 1) {
    // A new window: drop this key's old ones, so the table holds about one row per active key.
    await db.apiKeyUsage.deleteMany({ where: { apiKeyId: row.id, windowStart: { lt: windowStart } } });
  }
  if (count > row.rateLimitPerMinute) {
    const retryAfterSeconds = Math.max(1, Math.ceil((windowStart.getTime() + WINDOW_MS - now.getTime()) / 1000));
    return {
      ok: false,
      status: 429,
      reason: "rate_limited",
      retryAfterSeconds,
      message: `Rate limit reached for this API key: ${row.rateLimitPerMinute} requests per minute. Try again in ${retryAfterSeconds} s.`,
    };
  }
  return { ok: true, key: { id: row.id, name: row.name, scopes: row.scopes } };
}
