// seed() on a real, migrated database: idempotent, and the house model registered when present.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HOUSE_MODEL_DIR } from "../../src/lm/index.ts";
import { verifyPassword } from "../../src/server/auth/password.ts";
import { checkpointDigest } from "../../src/server/policy/digest.ts";
import { DEFAULT_PROMPTS_FILE, DEFAULT_SETTINGS, parsePromptFile, seed, sha256File } from "../../src/server/seed.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

let t: TestDatabase;
let noModelDir: string;
let houseDir: string;
let storeDir: string;
beforeAll(async () => {
  storeDir = mkdtempSync(path.join(tmpdir(), "dpo-store-"));
  t = await createTestDatabase();
  noModelDir = mkdtempSync(path.join(tmpdir(), "dpo-nomodel-"));
  houseDir = mkdtempSync(path.join(tmpdir(), "dpo-house-"));
});
afterAll(async () => {
  await t?.drop();
  rmSync(noModelDir, { recursive: true, force: true });
  rmSync(houseDir, { recursive: true, force: true });
  rmSync(storeDir, { recursive: true, force: true });
});

const pool = parsePromptFile(readFileSync(DEFAULT_PROMPTS_FILE, "utf8"));

describe("prompt pool file", () => {
  it("has about 200 distinct prompts, about 20 of them held out", () => {
    expect(pool.length).toBeGreaterThanOrEqual(190);
    const held = pool.filter((p) => p.heldOut).length;
    expect(held).toBeGreaterThanOrEqual(15);
    expect(held).toBeLessThanOrEqual(30);
    expect(new Set(pool.map((p) => p.text)).size).toBe(pool.length);
    // a byte-level model sees these directly: keep them short and printable
    for (const p of pool) expect(p.text.length, p.text).toBeLessThanOrEqual(120);
  });

  it("parses comments, blank lines, duplicates and the held-out marker", () => {
    expect(parsePromptFile("# c\n\nA\r\nB\nA\n## held-out\nC\n")).toEqual([
      { text: "A", heldOut: false },
      { text: "B", heldOut: false },
      { text: "C", heldOut: true },
    ]);
  });
});

describe("seed", () => {
  it("creates the admin with a generated password returned once, the prompts and the settings", async () => {
    const first = await seed(t.db, { adminUsername: "root", houseModelDir: noModelDir });
    expect(first.admin.created).toBe(true);
    expect(first.admin.generatedPassword).toMatch(/^[A-Za-z0-9_-]{16,}$/);
    const admin = await t.db.user.findUniqueOrThrow({ where: { username: "root" } });
    expect(admin.role).toBe("ADMIN");
    expect(await verifyPassword(admin.passwordHash, first.admin.generatedPassword!)).toBe(true);

    expect(first.promptsAdded).toBe(pool.length);
    expect(await t.db.prompt.count({ where: { source: "seed", heldOut: true } })).toBe(pool.filter((p) => p.heldOut).length);
    expect(first.settingsAdded).toBe(Object.keys(DEFAULT_SETTINGS).length);
    expect(first.houseModel.registered).toBe(false);
    expect(first.houseModel.reason).toContain(noModelDir);
    expect(await t.db.policyVersion.count()).toBe(0);
  });

  it("is idempotent: a second run adds nothing, keeps the password and an admin's settings", async () => {
    const before = await t.db.user.findUniqueOrThrow({ where: { username: "root" } });
    await t.db.setting.update({ where: { key: "sampling" }, data: { value: { temperature: 0.3 } } });
    const again = await seed(t.db, { adminUsername: "root", houseModelDir: noModelDir });
    expect(again).toMatchObject({ admin: { created: false, generatedPassword: undefined }, promptsAdded: 0, settingsAdded: 0 });
    expect((await t.db.user.findUniqueOrThrow({ where: { username: "root" } })).passwordHash).toBe(before.passwordHash);
    expect(await t.db.prompt.count()).toBe(pool.length);
    expect((await t.db.setting.findUniqueOrThrow({ where: { key: "sampling" } })).value).toEqual({ temperature: 0.3 });
  });

  it("two concurrent seeds create one admin and one prompt pool", async () => {
    const results = await Promise.all([
      seed(t.db, { adminUsername: "twin", adminPassword: "correct horse battery", houseModelDir: noModelDir }),
      seed(t.db, { adminUsername: "twin", adminPassword: "correct horse battery", houseModelDir: noModelDir }),
    ]);
    expect(results.filter((r) => r.admin.created)).toHaveLength(1);
    expect(await t.db.user.count({ where: { username: "twin" } })).toBe(1);
    expect(await t.db.prompt.count()).toBe(pool.length);
    const twin = await t.db.user.findUniqueOrThrow({ where: { username: "twin" } });
    expect(await verifyPassword(twin.passwordHash, "correct horse battery")).toBe(true);
  });

  it("registers the house model as v0 SERVING once it appears: validated, copied into the store, its digest covering config.json", async () => {
    cpSync(HOUSE_MODEL_DIR, houseDir, { recursive: true });
    const r = await seed(t.db, { adminUsername: "root", houseModelDir: houseDir, checkpointDir: storeDir });
    expect(r.houseModel.registered).toBe(true);
    const v0 = await t.db.policyVersion.findUniqueOrThrow({ where: { name: "v0" } });
    const config = JSON.parse(readFileSync(path.join(houseDir, "config.json"), "utf8"));
    expect(v0).toMatchObject({
      status: "SERVING",
      source: "HOUSE",
      architecture: "gpt2",
      parentId: null,
      sourcePath: houseDir,
      modelConfig: config,
    });
    expect(v0.checkpointUri.startsWith(`file:${storeDir}/`)).toBe(true);
    expect(v0.checkpointSha256).toBe(await checkpointDigest(houseDir));
    expect(v0.checkpointSha256).not.toBe(await sha256File(path.join(houseDir, "model.safetensors")));
    expect(Number(v0.parameterCount)).toBeGreaterThan(500_000);
    expect(v0.promotedAt).toBeInstanceOf(Date);

    const again = await seed(t.db, { adminUsername: "root", houseModelDir: houseDir, checkpointDir: storeDir });
    expect(again.houseModel.registered).toBe(false);
    expect(await t.db.policyVersion.count()).toBe(1);
  });

  it("reports a clear reason for a broken house model config instead of registering it", async () => {
    const broken = mkdtempSync(path.join(tmpdir(), "dpo-broken-"));
    try {
      const other = await createTestDatabase();
      try {
        writeFileSync(path.join(broken, "config.json"), "{ not json");
        writeFileSync(path.join(broken, "model.safetensors"), "x");
        const r = await seed(other.db, { adminPassword: "long enough pw", houseModelDir: broken });
        expect(r.houseModel).toMatchObject({ registered: false });
        expect(r.houseModel.reason).toMatch(/config\.json is not valid JSON/);
        expect(await other.db.policyVersion.count()).toBe(0);
      } finally {
        await other.drop();
      }
    } finally {
      rmSync(broken, { recursive: true, force: true });
    }
  });
});
