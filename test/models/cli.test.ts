// `npm run cli -- import-model` end to end: a real process against a real database and store.
import { execFile } from "node:child_process";
import { rm } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HOUSE_MODEL_DIR } from "../../src/lm/index.ts";
import { seed } from "../../src/server/seed.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { BROKEN, houseVariant, storeEntries, tempDir } from "./fixtures.ts";

const exec = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, "../..");

let t: TestDatabase;
let storeRoot: string;
const cleanup: string[] = [];

beforeAll(async () => {
  t = await createTestDatabase();
  storeRoot = await tempDir("cli-store");
  await seed(t.db, { adminPassword: "long enough pw", houseModelDir: HOUSE_MODEL_DIR, checkpointDir: storeRoot });
});
afterAll(async () => {
  await t?.drop();
  for (const d of [storeRoot, ...cleanup]) await rm(d, { recursive: true, force: true });
});

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(process.execPath, ["--import", "tsx", "scripts/cli.ts", ...args], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: t.url, CHECKPOINT_DIR: storeRoot, TF_BACKEND: "cpu" },
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("npm run cli -- import-model", () => {
  it("imports and serves a good directory, printing what it validated and the new version", async () => {
    const dir = await houseVariant("cli-good");
    cleanup.push(dir);
    const r = await cli("import-model", dir, "--name", "CLI model", "--serve");
    expect(r.stderr).not.toMatch(/error|failed/i);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/validated .*cli-good/);
    expect(r.stdout).toMatch(/architecture\s+gpt2/);
    expect(r.stdout).toMatch(/forward pass\s+ok/);
    expect(r.stdout).toMatch(/registered v1 "CLI model"/);
    expect(r.stdout).toMatch(/serving v1 now/);
    const v1 = await t.db.policyVersion.findUniqueOrThrow({ where: { name: "v1" } });
    expect(v1).toMatchObject({ status: "SERVING", source: "IMPORTED", displayName: "CLI model", parentId: null });
  });

  it("refuses a broken directory with the reason and exit code 1, registering nothing", async () => {
    const dir = await houseVariant("cli-broken", 4e-6);
    cleanup.push(dir);
    await BROKEN["missing tensor"]!.break(dir);
    const before = { n: await t.db.policyVersion.count(), files: await storeEntries(storeRoot) };
    const r = await cli("import-model", dir, "--name", "broken");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/import failed, nothing was registered: .*missing tensor transformer\.h\.1\.mlp\.c_fc\.weight/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(await t.db.policyVersion.count()).toBe(before.n);
    expect(await storeEntries(storeRoot)).toEqual(before.files);
  });

  it("answers a usage error with exit code 2 and the usage", async () => {
    const r = await cli("import-model", "/tmp/x");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--name is required/);
    expect(r.stderr).toMatch(/usage: npm run cli -- import-model DIR --name NAME/);
    expect((await cli("import-model", "/tmp/x", "--name", "n", "--bogus")).code).toBe(2);
  });
});
