// A fresh, migrated database per test file, on the server in DATABASE_URL (or the local
// Postgres at 127.0.0.1:5432), dropped afterwards.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { createPrismaClient, type PrismaClient } from "../../src/server/db/client.ts";
import { applyMigrations } from "../../src/server/db/migrate.ts";

const FALLBACK_URL = "postgresql://postgres@127.0.0.1:5432/postgres";

function serverUrl(): string {
  // Tests may read the environment directly: they configure the app, they are not the app.
  return process.env.DATABASE_URL || FALLBACK_URL;
}

/** The same server as `base`, a different database name. */
export function withDatabase(base: string, database: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: withDatabase(serverUrl(), "postgres") });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  url: string;
  db: PrismaClient;
  drop(): Promise<void>;
}

const STALE_AFTER_MS = 2 * 60 * 60 * 1000;
let staleSwept = false;

// A test process killed mid-run (Ctrl-C, CI timeout) never drops its database. Names carry
// their creation time, so anything far older than any test run is a leftover: drop it.
async function dropStaleTestDatabases(): Promise<void> {
  if (staleSwept) return;
  staleSwept = true;
  const client = new pg.Client({ connectionString: withDatabase(serverUrl(), "postgres") });
  try {
    await client.connect();
    const { rows } = await client.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'dpo\\_test\\_%'`);
    for (const { datname } of rows) {
      const created = parseInt(datname.split("_")[2] ?? "", 36);
      if (Number.isFinite(created) && Date.now() - created > STALE_AFTER_MS) {
        await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`).catch(() => {});
      }
    }
  } catch {
    // best effort: never fail a test because of someone else's leftovers
  } finally {
    await client.end().catch(() => {});
  }
}

/** An empty database (no migrations applied): for tests of the migration runner itself. */
export async function createEmptyDatabase(): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  await dropStaleTestDatabases();
  const name = `dpo_test_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
  await adminQuery(`CREATE DATABASE "${name}"`);
  return {
    url: withDatabase(serverUrl(), name),
    name,
    drop: () => adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
  };
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const empty = await createEmptyDatabase();
  try {
    await applyMigrations({ databaseUrl: empty.url });
  } catch (err) {
    await empty.drop();
    throw err;
  }
  const db = createPrismaClient(empty.url);
  return {
    url: empty.url,
    db,
    async drop() {
      await db.$disconnect().catch(() => {});
      await empty.drop();
    },
  };
}
