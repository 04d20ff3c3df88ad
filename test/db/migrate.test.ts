// The migration runner against a real PostgreSQL: a fresh empty database per case.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { applyMigrations, DEFAULT_MIGRATIONS_DIR, MigrationError, readMigrations, sha256Hex } from "../../src/server/db/migrate.ts";
import { createEmptyDatabase } from "../helpers/db.ts";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
afterAll(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function emptyDb() {
  const d = await createEmptyDatabase();
  cleanups.push(() => d.drop());
  return d;
}

function copyOfMigrations(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "dpo-migrations-"));
  cpSync(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

interface Row {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
  applied_steps_count: number;
  started_at: Date;
  logs: string | null;
}
const rows = (url: string) => query<Row>(url, `SELECT * FROM "_prisma_migrations" ORDER BY started_at`);

const allNames = readMigrations().map((m) => m.name);
const initName = allNames[0]!;

describe("applyMigrations", () => {
  it("applies every migration once with Prisma's bookkeeping, and a second run is a no-op", async () => {
    const { url } = await emptyDb();
    const first = await applyMigrations({ databaseUrl: url });
    expect(first.applied).toEqual(readMigrations().map((m) => m.name));
    expect(first.alreadyApplied).toEqual([]);

    const recorded = await rows(url);
    expect(recorded).toHaveLength(first.applied.length);
    const init = recorded.find((r) => r.migration_name === initName)!;
    // Prisma's checksum: sha256 hex of the migration.sql bytes.
    expect(init.checksum).toBe(sha256Hex(readFileSync(path.join(DEFAULT_MIGRATIONS_DIR, initName, "migration.sql"))));
    expect(init.finished_at).toBeInstanceOf(Date);
    expect(init.finished_at!.getTime()).toBeGreaterThanOrEqual(init.started_at.getTime());
    expect(init.rolled_back_at).toBeNull();
    expect(init.applied_steps_count).toBe(1);

    const tables = await query<{ table_name: string }>(
      url,
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`,
    );
    expect(tables.map((t) => t.table_name)).toEqual(expect.arrayContaining(["User", "Vote", "TrainingRound", "_prisma_migrations"]));

    const second = await applyMigrations({ databaseUrl: url });
    expect(second.applied).toEqual([]);
    expect(second.alreadyApplied).toEqual(first.applied);
    expect(await rows(url)).toHaveLength(recorded.length);
  });

  it("does not race when two runners start together on a fresh database", async () => {
    const { url } = await emptyDb();
    const [a, b] = await Promise.all([applyMigrations({ databaseUrl: url }), applyMigrations({ databaseUrl: url })]);
    // one runner applied everything, the other waited on the lock and found it all applied
    expect([a.applied, b.applied].sort((x, y) => x.length - y.length)).toEqual([[], allNames]);
    expect([...a.alreadyApplied, ...b.alreadyApplied]).toEqual(allNames);
    expect((await rows(url)).map((r) => r.migration_name)).toEqual(allNames);
  });

  it("refuses to start when an applied migration was edited, naming it and saying what to do", async () => {
    const { url } = await emptyDb();
    await applyMigrations({ databaseUrl: url });
    const dir = copyOfMigrations();
    const file = path.join(dir, initName, "migration.sql");
    writeFileSync(file, `${readFileSync(file, "utf8")}\n-- an innocent-looking edit\n`);

    const err = await applyMigrations({ databaseUrl: url, migrationsDir: dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationError);
    expect((err as MigrationError).migration).toBe(initName);
    expect((err as Error).message).toContain(`Migration ${initName} was modified after it was applied`);
    expect((err as Error).message).toContain("new migration");
  });

  it("treats a CRLF checkout of the same migration as unchanged", async () => {
    const { url } = await emptyDb();
    await applyMigrations({ databaseUrl: url });
    const dir = copyOfMigrations();
    const file = path.join(dir, initName, "migration.sql");
    writeFileSync(file, readFileSync(file, "utf8").replace(/\n/g, "\r\n"));
    const result = await applyMigrations({ databaseUrl: url, migrationsDir: dir });
    expect(result.applied).toEqual([]);
    expect(result.alreadyApplied).toEqual(allNames);
  });

  it("rolls back a failing migration completely, records it as rolled back, and retries it once fixed", async () => {
    const { url } = await emptyDb();
    const dir = copyOfMigrations();
    const badName = "29990101000000_add_broken_table";
    mkdirSync(path.join(dir, badName));
    const badFile = path.join(dir, badName, "migration.sql");
    writeFileSync(badFile, `CREATE TABLE "Half" ("id" TEXT PRIMARY KEY);\nSELECT no_such_function();\n`);

    const err = await applyMigrations({ databaseUrl: url, migrationsDir: dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationError);
    expect((err as Error).message).toContain(`Migration ${badName} failed and was rolled back`);
    expect((err as Error).message).toContain("no_such_function");
    // the first statement of the failed script left nothing behind
    expect(await query(url, `SELECT 1 FROM information_schema.tables WHERE table_name = 'Half'`)).toHaveLength(0);
    const failedRow = (await rows(url)).find((r) => r.migration_name === badName)!;
    expect(failedRow.rolled_back_at).toBeInstanceOf(Date);
    expect(failedRow.finished_at).toBeNull();
    expect(failedRow.logs).toContain("no_such_function");

    writeFileSync(badFile, `CREATE TABLE "Half" ("id" TEXT PRIMARY KEY);\n`);
    const retried = await applyMigrations({ databaseUrl: url, migrationsDir: dir });
    expect(retried.applied).toEqual([badName]);
    expect(await query(url, `SELECT 1 FROM information_schema.tables WHERE table_name = 'Half'`)).toHaveLength(1);
  });

  it("refuses to start on an unfinished migration row left by another tool", async () => {
    const { url } = await emptyDb();
    await applyMigrations({ databaseUrl: url });
    await query(
      url,
      `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count)
       VALUES ('00000000-0000-4000-8000-000000000001', 'x', '20990101000000_half_done', now(), 0)`,
    );
    await expect(applyMigrations({ databaseUrl: url })).rejects.toThrow(
      /Migration 20990101000000_half_done was started but never finished.*rolled_back_at/s,
    );
  });

  it("says clearly when the database cannot be reached or the directory is missing", async () => {
    await expect(applyMigrations({ databaseUrl: "postgresql://postgres@127.0.0.1:1/nowhere" })).rejects.toThrow(
      /Cannot connect to the database to apply migrations/,
    );
    await expect(applyMigrations({ databaseUrl: "postgresql://x@127.0.0.1/x", migrationsDir: "/nonexistent/dir" })).rejects.toThrow(
      "Migrations directory not found: /nonexistent/dir",
    );
  });
});
