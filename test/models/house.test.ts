// HOUSE_MODEL_DIR changes are explicit: the served house version keeps its own copy, and a
// changed (or re-pointed) house directory becomes a new HOUSE candidate, never a silent
// mismatch between what is recorded and what is loaded.
import { rm } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GPTConfig } from "../../src/lm/index.ts";
import { DirectoryCheckpointStore } from "../../src/server/policy/checkpoint-store.ts";
import { checkpointDigest, sha256File } from "../../src/server/policy/digest.ts";
import { loadVerified } from "../../src/server/policy/load.ts";
import { seed } from "../../src/server/seed.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { editConfig, houseCopy, tempDir } from "./fixtures.ts";

let t: TestDatabase;
let storeRoot: string;
let houseDir: string;
const cleanup: string[] = [];
const opts = () => ({ adminPassword: "long enough pw", houseModelDir: houseDir, checkpointDir: storeRoot });

beforeAll(async () => {
  t = await createTestDatabase();
  storeRoot = await tempDir("house-store");
  houseDir = await houseCopy("house");
  cleanup.push(storeRoot, houseDir);
});
afterAll(async () => {
  await t?.drop();
  for (const d of cleanup) await rm(d, { recursive: true, force: true });
});

describe("a changed HOUSE_MODEL_DIR", () => {
  it("is registered as a new HOUSE candidate; v0 keeps serving from its own verified copy", async () => {
    expect((await seed(t.db, opts())).houseModel).toMatchObject({ registered: true, versionName: "v0" });
    expect((await seed(t.db, opts())).houseModel.registered).toBe(false); // unchanged: nothing new

    // A new house model arrives in the same directory (say, a git pull): here only its config changes.
    await editConfig(houseDir, (c) => (c.layer_norm_epsilon = 1e-6));
    const r = await seed(t.db, opts());
    expect(r.houseModel).toMatchObject({ registered: true, versionName: "v1" });
    expect(r.houseModel.reason).toMatch(/not the one registered as v0; registered it as v1 \(CANDIDATE\)/);
    const v1 = await t.db.policyVersion.findUniqueOrThrow({ where: { name: "v1" } });
    expect(v1).toMatchObject({ source: "HOUSE", status: "CANDIDATE", parentId: null, checkpointSha256: await checkpointDigest(houseDir) });

    const v0 = await t.db.policyVersion.findUniqueOrThrow({ where: { name: "v0" } });
    expect(v0.status).toBe("SERVING");
    const store = new DirectoryCheckpointStore(storeRoot);
    const loaded = await loadVerified(store, v0);
    expect((loaded.model.config as GPTConfig).layerNormEpsilon).toBe(1e-5); // v0's files, not the edited directory's
    loaded.model.dispose();

    expect((await seed(t.db, opts())).houseModel.registered).toBe(false); // registered once
    // Pointing HOUSE_MODEL_DIR at another copy of a registered house model adds nothing either.
    const elsewhere = await houseCopy("house-elsewhere");
    cleanup.push(elsewhere);
    expect((await seed(t.db, { ...opts(), houseModelDir: elsewhere })).houseModel.registered).toBe(false);
    expect(await t.db.policyVersion.count()).toBe(2);
  });

  it("a v0 registered before digests covered config.json (weights-only sha, files in the house directory) counts as unchanged", async () => {
    const other = await createTestDatabase();
    try {
      const dir = await houseCopy("legacy-house");
      cleanup.push(dir);
      await other.db.policyVersion.create({
        data: {
          name: "v0",
          source: "HOUSE",
          checkpointUri: `file:${dir}`,
          checkpointSha256: await sha256File(path.join(dir, "model.safetensors")),
          status: "SERVING",
          promotedAt: new Date(),
        },
      });
      const r = await seed(other.db, { ...opts(), houseModelDir: dir });
      expect(r.houseModel.registered).toBe(false);
      expect(await other.db.policyVersion.count()).toBe(1);
    } finally {
      await other.drop();
    }
  });
});
