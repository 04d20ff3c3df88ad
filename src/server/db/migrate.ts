// Applies prisma/migrations/*/migration.sql without Prisma's schema engine (which cannot be
// downloaded on these machines), keeping Prisma's own `_prisma_migrations` bookkeeping so that
// `prisma migrate deploy` / `migrate status` on a machine that has the engine agree with us.
import { createHash, randomUUID } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import pg from "pg";

/** Prisma migrate's own advisory-lock key, so our runner and the Prisma CLI exclude each other. */
export const MIGRATION_LOCK_KEY = 72707369;

export const DEFAULT_MIGRATIONS_DIR = path.resolve(import.meta.dirname, "../../../prisma/migrations");

// Same definition the Prisma schema engine creates.
const BOOKKEEPING_TABLE_SQL = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

export interface MigrationFile {
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrateOptions {
  databaseUrl: string;
  migrationsDir?: string;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export interface MigrateResult {
  applied: string[];
  alreadyApplied: string[];
}

export class MigrationError extends Error {
  constructor(
    message: string,
    readonly migration?: string,
  ) {
    super(message);
    this.name = "MigrationError";
  }
}

export function sha256Hex(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Migration directories sorted by name (Prisma names them <timestamp>_<name>, so this is time order). */
export function readMigrations(migrationsDir: string = DEFAULT_MIGRATIONS_DIR): MigrationFile[] {
  if (!existsSync(migrationsDir)) {
    throw new MigrationError(`Migrations directory not found: ${migrationsDir}`);
  }
  return readdirSync(migrationsDir)
    .filter((entry) => statSync(path.join(migrationsDir, entry)).isDirectory())
    .sort()
    .map((name) => {
      const file = path.join(migrationsDir, name, "migration.sql");
      if (!existsSync(file)) throw new MigrationError(`Migration ${name} has no migration.sql (expected ${file})`, name);
      const bytes = readFileSync(file);
      return { name, sql: bytes.toString("utf8"), checksum: sha256Hex(bytes) };
    });
}

// A checkout with Windows line endings changes the bytes but not the migration; Prisma
// accepts both forms as well, so a CRLF/LF conversion alone is not a mismatch.
function checksumMatches(recorded: string, file: MigrationFile): boolean {
  if (recorded === file.checksum) return true;
  const lf = file.sql.replace(/\r\n/g, "\n");
  return recorded === sha256Hex(lf) || recorded === sha256Hex(lf.replace(/\n/g, "\r\n"));
}

interface AppliedRow {
  id: string;
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
  logs: string | null;
}

/**
 * Creates the database named in `databaseUrl` when the server says it does not exist (as
 * `prisma migrate deploy` does). Returns true when it created it.
 */
export async function ensureDatabaseExists(databaseUrl: string): Promise<boolean> {
  const probe = new pg.Client({ connectionString: databaseUrl });
  try {
    await probe.connect();
    return false;
  } catch (err) {
    if ((err as { code?: string }).code !== "3D000") return false; // let the caller report other errors
  } finally {
    await probe.end().catch(() => {});
  }
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  url.pathname = "/postgres";
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
  } catch (err) {
    if ((err as { code?: string }).code !== "42P04") throw err; // created concurrently: fine
  } finally {
    await admin.end().catch(() => {});
  }
  return true;
}

export async function applyMigrations(options: MigrateOptions): Promise<MigrateResult> {
  const log = options.log ?? (() => {});
  const migrations = readMigrations(options.migrationsDir);
  const client = new pg.Client({ connectionString: options.databaseUrl });
  try {
    await client.connect();
  } catch (err) {
    throw new MigrationError(`Cannot connect to the database to apply migrations: ${(err as Error).message}`);
  }
  // Session-level lock held for the whole run: a second process starting at the same time
  // waits here, then finds everything applied.
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
    try {
      return await applyLocked(client, migrations, log);
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]).catch(() => {});
    }
  } finally {
    await client.end().catch(() => {});
  }
}

async function applyLocked(
  client: pg.Client,
  migrations: MigrationFile[],
  log: NonNullable<MigrateOptions["log"]>,
): Promise<MigrateResult> {
  await client.query(BOOKKEEPING_TABLE_SQL);
  const { rows } = await client.query<AppliedRow>(
    `SELECT id, migration_name, checksum, finished_at, rolled_back_at, logs
       FROM "_prisma_migrations" ORDER BY started_at`,
  );
  const live = rows.filter((r) => r.rolled_back_at === null);

  const unfinished = live.find((r) => r.finished_at === null);
  if (unfinished) {
    throw new MigrationError(
      `Migration ${unfinished.migration_name} was started but never finished (a failed or interrupted run recorded in _prisma_migrations). ` +
        `Inspect the database, then either mark it rolled back (UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE id = '${unfinished.id}') ` +
        `so it is retried, or run \`prisma migrate resolve --applied ${unfinished.migration_name}\` if you completed it by hand.` +
        (unfinished.logs ? `\nRecorded error: ${unfinished.logs}` : ""),
      unfinished.migration_name,
    );
  }

  const byName = new Map(live.map((r) => [r.migration_name, r]));
  for (const m of migrations) {
    const row = byName.get(m.name);
    if (row && !checksumMatches(row.checksum, m)) {
      throw new MigrationError(
        `Migration ${m.name} was modified after it was applied: its migration.sql checksum is ${m.checksum} but the database recorded ${row.checksum}. ` +
          `Applied migrations must never be edited. Restore prisma/migrations/${m.name}/migration.sql to the applied version ` +
          `and put the change in a new migration directory.`,
        m.name,
      );
    }
  }
  const known = new Set(migrations.map((m) => m.name));
  for (const r of live) {
    if (!known.has(r.migration_name)) {
      log("database has a migration that is not in this checkout (newer code ran against it?)", { migration: r.migration_name });
    }
  }

  const result: MigrateResult = { applied: [], alreadyApplied: [] };
  for (const m of migrations) {
    if (byName.has(m.name)) {
      result.alreadyApplied.push(m.name);
      continue;
    }
    await applyOne(client, m, log);
    result.applied.push(m.name);
  }
  if (result.applied.length === 0) log("database schema is up to date", { migrations: migrations.length });
  return result;
}

async function applyOne(client: pg.Client, m: MigrationFile, log: NonNullable<MigrateOptions["log"]>): Promise<void> {
  const id = randomUUID();
  const started = Date.now();
  log("applying migration", { migration: m.name });
  try {
    await client.query("BEGIN");
    await client.query(
      `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count)
       VALUES ($1, $2, $3, now(), 0)`,
      [id, m.checksum, m.name],
    );
    // No parameters: the simple-query protocol, which runs a multi-statement script.
    await client.query(m.sql);
    await client.query(`UPDATE "_prisma_migrations" SET finished_at = clock_timestamp(), applied_steps_count = 1 WHERE id = $1`, [id]);
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    const message = (err as Error).message;
    // The transaction left no trace of the attempt; record it as rolled back (Prisma's meaning:
    // ignore and retry), so the failure is visible to operators without blocking the next start.
    await client
      .query(
        `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, logs, started_at, rolled_back_at, applied_steps_count)
         VALUES ($1, $2, $3, $4, to_timestamp($5 / 1000.0), now(), 0)`,
        [randomUUID(), m.checksum, m.name, message, started],
      )
      .catch(() => {});
    throw new MigrationError(
      `Migration ${m.name} failed and was rolled back, so the database is unchanged: ${message}. Fix prisma/migrations/${m.name}/migration.sql and start again.`,
      m.name,
    );
  }
  log("applied migration", { migration: m.name, ms: Date.now() - started });
}
