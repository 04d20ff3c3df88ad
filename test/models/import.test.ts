// Import of a model directory on a real database and a real checkpoint store: a good directory
// becomes a CANDIDATE lineage root that "serve now" promotes; each malformed one is refused
// with a message naming what is wrong, and leaves no version, no files and the same serving.
import { rm } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GPTConfig, HOUSE_MODEL_DIR } from "../../src/lm/index.ts";
import { AppError } from "../../src/server/errors.ts";
import { DirectoryCheckpointStore, fileUriToPath } from "../../src/server/policy/checkpoint-store.ts";
import { checkpointDigest } from "../../src/server/policy/digest.ts";
import { loadVerified } from "../../src/server/policy/load.ts";
import { seed } from "../../src/server/seed.ts";
import { importModel, serveModel } from "../../src/server/services/models/import-model.ts";
import { listModels } from "../../src/server/services/models/list-models.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { BROKEN, houseCopy, houseVariant, storeEntries, tempDir } from "./fixtures.ts";

let t: TestDatabase;
let storeRoot: string;
let store: DirectoryCheckpointStore;
const cleanup: string[] = [];

beforeAll(async () => {
  t = await createTestDatabase();
  storeRoot = await tempDir("store");
  store = new DirectoryCheckpointStore(storeRoot);
  const r = await seed(t.db, { adminPassword: "long enough pw", houseModelDir: HOUSE_MODEL_DIR, checkpointDir: storeRoot });
  expect(r.houseModel.registered).toBe(true);
});
afterAll(async () => {
  await t?.drop();
  for (const d of [storeRoot, ...cleanup]) await rm(d, { recursive: true, force: true });
});

const serving = () => t.db.policyVersion.findFirstOrThrow({ where: { status: "SERVING" }, select: { id: true, name: true } });

describe("importing a malformed directory", () => {
  for (const [what, c] of Object.entries(BROKEN)) {
    it(`${what}: a clear error, nothing registered, no files left in the store, serving unchanged`, async () => {
      const dir = await houseVariant(what.replace(/\W+/g, "-"));
      cleanup.push(dir);
      await c.break(dir);
      const before = { versions: await t.db.policyVersion.count(), store: await storeEntries(storeRoot), serving: await serving() };
      const err = await importModel({ db: t.db, store, dir, name: `broken: ${what}`, serve: true }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe("INVALID_REQUEST");
      expect((err as AppError).userMessage).toMatch(c.error);
      expect((err as AppError).userMessage).not.toMatch(/\n\s+at /); // no stack trace
      expect(await t.db.policyVersion.count()).toBe(before.versions);
      expect(await storeEntries(storeRoot)).toEqual(before.store);
      expect(await serving()).toEqual(before.serving);
    });
  }

  it("a path that is not absolute, does not exist or is a file", async () => {
    await expect(importModel({ db: t.db, store, dir: "models/house", name: "x", serve: false })).rejects.toThrow(/not an absolute path/);
    await expect(importModel({ db: t.db, store, dir: "/nonexistent/model", name: "x", serve: false })).rejects.toThrow(/does not exist/);
    await expect(importModel({ db: t.db, store, dir: path.join(HOUSE_MODEL_DIR, "config.json"), name: "x", serve: false })).rejects.toThrow(
      /not a directory/,
    );
  });
});

describe("importing a good directory", () => {
  it("registers a CANDIDATE lineage root with its digest, source, architecture and size; serving unchanged until served", async () => {
    const dir = await houseVariant("good");
    cleanup.push(dir);
    const before = await serving();
    const r = await importModel({ db: t.db, store, dir, name: "House variant", serve: false });
    expect(r.served).toBe(false);
    const v = await t.db.policyVersion.findUniqueOrThrow({ where: { id: r.version.id } });
    expect(v).toMatchObject({
      status: "CANDIDATE",
      parentId: null,
      source: "IMPORTED",
      architecture: "gpt2",
      displayName: "House variant",
      sourcePath: dir,
    });
    expect(v.checkpointSha256).toBe(await checkpointDigest(dir));
    expect(Number(v.parameterCount)).toBe(r.report.parameterCount);
    // The store holds a copy (model files only), not a link to the source directory.
    const stored = fileUriToPath(v.checkpointUri);
    expect(path.dirname(stored)).toBe(storeRoot);
    expect(await storeEntries(stored)).toEqual(["config.json", "model.safetensors"]);
    expect(await serving()).toEqual(before);
    (await loadVerified(store, v)).model.dispose();

    const rows = await listModels({ db: t.db });
    expect(rows.find((m) => m.id === v.id)).toMatchObject({
      source: "IMPORTED",
      architecture: "gpt2",
      displayName: "House variant",
      status: "CANDIDATE",
      rootName: v.name,
    });

    // The same files again: refused as a duplicate, nothing added.
    const count = await t.db.policyVersion.count();
    const dup = await importModel({ db: t.db, store, dir, name: "again", serve: false }).catch((e: unknown) => e);
    expect((dup as AppError).code).toBe("CONFLICT");
    expect((dup as AppError).userMessage).toMatch(new RegExp(`already registered as ${v.name}`));
    expect(await t.db.policyVersion.count()).toBe(count);

    // "Serve now" later: the ordinary promotion.
    const p = await serveModel({ db: t.db, store, versionId: v.id });
    expect(p).toMatchObject({ versionId: v.id, previousId: before.id, changed: true });
    expect(await serving()).toEqual({ id: v.id, name: v.name });
    await serveModel({ db: t.db, store, versionId: before.id }); // back to the house model
  });

  it("with serve: registers and serves in one go", async () => {
    const dir = await houseVariant("serve-now", 3e-6);
    cleanup.push(dir);
    const r = await importModel({ db: t.db, store, dir, name: "served at once", serve: true });
    expect(r).toMatchObject({ served: true, serveError: null });
    expect((await serving()).id).toBe(r.version.id);
  });

  it("a source directory edited after import does not change the imported version", async () => {
    const dir = await houseCopy("edited-later");
    cleanup.push(dir);
    const { editConfig } = await import("./fixtures.ts");
    await editConfig(dir, (c) => (c.layer_norm_epsilon = 2e-6));
    const r = await importModel({ db: t.db, store, dir, name: "edited later", serve: false });
    await editConfig(dir, (c) => (c.layer_norm_epsilon = 0.5));
    const loaded = await loadVerified(store, r.version);
    expect((loaded.model.config as GPTConfig).layerNormEpsilon).toBe(2e-6);
    loaded.model.dispose();
  });
});

describe("validation in a worker thread (what the web process uses)", () => {
  it("reports the model, and refuses a broken one with the lm library's message", async () => {
    const { validateModelDir } = await import("../../src/server/services/models/validate.ts");
    const good = await validateModelDir(HOUSE_MODEL_DIR, { inWorker: true, backend: "cpu" });
    expect(good).toMatchObject({ architecture: "gpt2", tokenizer: "byte", vocabSize: 260 });
    expect(Number.isFinite(good.probeLogprob)).toBe(true);
    const dir = await houseCopy("worker-broken");
    cleanup.push(dir);
    await BROKEN["wrong shape"]!.break(dir);
    await expect(validateModelDir(dir, { inWorker: true, backend: "cpu" })).rejects.toThrow(BROKEN["wrong shape"]!.error);
  });
});
