// `npm run cli -- import-preferences` end to end: a real process against a real database and the
// seeded house model's checkpoint.
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HOUSE_MODEL_DIR } from "../../src/lm/index.ts";
import { seed } from "../../src/server/seed.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

const exec = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, "../..");

let t: TestDatabase;
let work: string;

beforeAll(async () => {
  t = await createTestDatabase();
  work = await mkdtemp(path.join(tmpdir(), "dpo-pref-cli-"));
  await seed(t.db, { adminPassword: "long enough pw", houseModelDir: HOUSE_MODEL_DIR, checkpointDir: path.join(work, "store") });
});
afterAll(async () => {
  await t?.drop();
  await rm(work, { recursive: true, force: true });
});

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(process.execPath, ["--import", "tsx", "scripts/cli.ts", ...args], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: t.url, CHECKPOINT_DIR: path.join(work, "store") },
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const hh = (q: string, a: string, b: string) =>
  JSON.stringify({ chosen: `\n\nHuman: ${q}\n\nAssistant: ${a}`, rejected: `\n\nHuman: ${q}\n\nAssistant: ${b}` });

describe("npm run cli -- import-preferences", () => {
  it("rejects a malformed HH file whole, listing each bad line, with exit code 1", async () => {
    const file = path.join(work, "bad.jsonl");
    await writeFile(
      file,
      [hh("Sky?", "Blue.", "Green."), "{oops", hh("Same?", "Yes.", "Yes."), JSON.stringify({ chosen: "x" })].join("\n"),
    );
    const r = await cli("import-preferences", file, "--format", "hh");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("line 2: not valid JSON");
    expect(r.stderr).toContain("line 3: chosen and rejected are the same text: the pair says nothing");
    expect(r.stderr).toContain(`line 4: "rejected" is missing`);
    expect(r.stderr).toContain("rejected 3 line(s); nothing was imported");
    expect(await t.db.importedPair.count()).toBe(0);
  }, 400_000);

  it("imports a good file and says for which model", async () => {
    const file = path.join(work, "good.jsonl");
    await writeFile(file, `${[hh("Sky?", "Blue.", "Green."), hh("Sea?", "Wet.", "Dry.")].join("\n")}\n`);
    const r = await cli("import-preferences", file, "--format", "hh");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^imported 2 pairs from good\.jsonl \(hh\), tokenized for v0; import id \w+/);
    const pairs = await t.db.importedPair.findMany({ orderBy: { line: "asc" } });
    expect(pairs.map((p) => [p.line, p.prompt, p.chosen])).toEqual([
      [1, "\n\nHuman: Sky?\n\nAssistant:", " Blue."],
      [2, "\n\nHuman: Sea?\n\nAssistant:", " Wet."],
    ]);
  }, 400_000);
});
