// Checkpoint retention on a real database and store: what must stay (serving lineage, versions
// that served, imports, active rounds' versions, the newest rejected, the last N) stays; the
// rest is deleted and marked pruned.
import { existsSync } from "node:fs";
import { cp, rm } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HOUSE_MODEL_DIR } from "../../src/lm/index.ts";
import { DirectoryCheckpointStore, fileUriToPath } from "../../src/server/policy/checkpoint-store.ts";
import { pruneCheckpoints } from "../../src/server/services/models/retention.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { tempDir } from "./fixtures.ts";

let t: TestDatabase;
let root: string;
let store: DirectoryCheckpointStore;
beforeAll(async () => {
  t = await createTestDatabase();
  root = await tempDir("retention");
  store = new DirectoryCheckpointStore(root);
});
afterAll(async () => {
  await t?.drop();
  await rm(root, { recursive: true, force: true });
});

async function version(
  name: string,
  o: {
    parent?: number;
    status: "SERVING" | "RETIRED" | "CANDIDATE" | "REJECTED";
    promoted?: boolean;
    source?: "HOUSE" | "IMPORTED" | "TRAINED";
  },
) {
  const uri = await store.put(HOUSE_MODEL_DIR, name, { files: ["config.json"] });
  return t.db.policyVersion.create({
    data: {
      name,
      parentId: o.parent ?? null,
      checkpointUri: uri,
      checkpointSha256: "0".repeat(64),
      status: o.status,
      promotedAt: o.promoted || o.status === "SERVING" ? new Date() : null,
      source: o.source ?? "TRAINED",
    },
  });
}

describe("pruneCheckpoints", () => {
  it("keeps serving, its lineage, versions that served, imports, active rounds' versions, the newest rejected and the last N; prunes the rest", async () => {
    const v0 = await version("v0", { status: "RETIRED", promoted: true, source: "HOUSE" });
    const v1 = await version("v1", { parent: v0.id, status: "REJECTED" }); // old rejected: pruned
    const v2 = await version("v2", { parent: v0.id, status: "CANDIDATE" }); // never served, old: pruned
    const v3 = await version("v3", { parent: v0.id, status: "RETIRED", promoted: true }); // served once (rolled back from): kept
    const v4 = await version("v4", { parent: v0.id, status: "CANDIDATE" }); // base of a running round: kept
    const v5 = await version("v5", { parent: v0.id, status: "SERVING" });
    const imp = await version("v6", { status: "CANDIDATE", source: "IMPORTED" }); // imported, not served yet: kept
    const v7 = await version("v7", { parent: v5.id, status: "REJECTED" }); // older rejected: pruned
    const v8 = await version("v8", { parent: v5.id, status: "CANDIDATE" }); // within the last N
    const v9 = await version("v9", { parent: v5.id, status: "REJECTED" }); // newest rejected: kept
    await t.db.trainingRound.create({
      data: { config: {}, triggeredBy: "admin", status: "RUNNING", baseVersionId: v4.id, referenceVersionId: v0.id },
    });
    // An old version whose files live outside the store (a legacy house directory) is never deleted.
    const outside = await tempDir("outside");
    await cp(path.join(HOUSE_MODEL_DIR, "config.json"), path.join(outside, "config.json"));
    const legacy = await t.db.policyVersion.create({
      data: { name: "v10", checkpointUri: `file:${outside}`, checkpointSha256: "0".repeat(64), status: "REJECTED" },
    });
    const v11 = await version("v11", { parent: v5.id, status: "CANDIDATE" });

    const r = await pruneCheckpoints({ db: t.db, store, keepLast: 2 });
    expect(r.pruned.sort()).toEqual(["v1", "v2", "v7"]);
    for (const v of [v1, v2, v7]) {
      expect(existsSync(fileUriToPath(v.checkpointUri))).toBe(false);
      expect((await t.db.policyVersion.findUniqueOrThrow({ where: { id: v.id } })).checkpointPrunedAt).toBeInstanceOf(Date);
    }
    for (const v of [v0, v3, v4, v5, imp, v8, v9, v11]) expect(existsSync(fileUriToPath(v.checkpointUri)), v.name).toBe(true);
    expect(existsSync(outside)).toBe(true);
    expect((await t.db.policyVersion.findUniqueOrThrow({ where: { id: legacy.id } })).checkpointPrunedAt).toBeNull();

    // Idempotent: a second pass deletes nothing more.
    expect((await pruneCheckpoints({ db: t.db, store, keepLast: 2 })).pruned).toEqual([]);
    await rm(outside, { recursive: true, force: true });
  });
});
