// One Prisma client per process. Outside production it lives on globalThis so that Next.js
// hot reload does not open a new connection pool on every edit.
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "../../generated/prisma/client.ts";
import { getEnv, requireDatabaseUrl } from "../env.ts";

export type { PrismaClient };

const urls = new WeakMap<object, string>();

/** The URL a client was created with (work that runs in another thread opens its own connection). */
export function databaseUrlOf(client: PrismaClient): string | undefined {
  // the app's shared `db` is a proxy in front of the real client
  return urls.get(client) ?? (client === db ? urls.get(getDb()) : undefined);
}

export function createPrismaClient(databaseUrl: string): PrismaClient {
  // 20 connections: the arena holds one per in-flight request, and assignments wait on row locks.
  // synchronous_commit on, whatever the server's or database's default: an acknowledged vote
  // must survive a crash. Writes that may be lost (battles, completions) turn it off per
  // transaction with SET LOCAL.
  const client = new PrismaClient({
    adapter: new PrismaPg({ connectionString: databaseUrl, max: 20, options: "-c synchronous_commit=on" }),
  });
  urls.set(client, databaseUrl);
  return client;
}

const globalForDb = globalThis as unknown as { __dpoArenaDb?: PrismaClient };
let moduleDb: PrismaClient | undefined;

function getDb(): PrismaClient {
  const inProduction = getEnv().NODE_ENV === "production";
  const existing = inProduction ? moduleDb : globalForDb.__dpoArenaDb;
  if (existing) return existing;
  const client = createPrismaClient(requireDatabaseUrl());
  if (inProduction) moduleDb = client;
  else globalForDb.__dpoArenaDb = client;
  return client;
}

/** Lazily created on first property access, so importing this module never needs DATABASE_URL. */
export const db: PrismaClient = new Proxy({} as PrismaClient, {
  get(_target, prop) {
    const client = getDb();
    const value = Reflect.get(client as object, prop, client);
    return typeof value === "function" ? value.bind(client) : value;
  },
});

export async function checkDatabase(client: PrismaClient = db): Promise<{ ok: boolean; latencyMs: number; error?: string }> {
  const started = performance.now();
  try {
    await client.$queryRaw`SELECT 1`;
    return { ok: true, latencyMs: Math.round((performance.now() - started) * 10) / 10 };
  } catch (err) {
    const latencyMs = Math.round((performance.now() - started) * 10) / 10;
    // A short, non-secret reason for the health endpoint; the details belong in the logs.
    const message = err instanceof Error ? err.message.split("\n")[0]!.slice(0, 200) : String(err);
    let production = true;
    try {
      production = getEnv().NODE_ENV === "production";
    } catch {
      // an invalid environment is reported elsewhere; keep the health answer terse
    }
    return { ok: false, latencyMs, error: production ? "database unreachable" : message };
  }
}
