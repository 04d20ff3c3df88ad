// A round's result records the digest that covers its config.json (not only its weights), so a
// trained version's config edited in the store is refused like any other version's; the round
// lands in the store as a TRAINED version of its base's lineage.
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DirectoryCheckpointStore, fileUriToPath } from "../../src/server/policy/checkpoint-store.ts";
import { checkpointDigest } from "../../src/server/policy/digest.ts";
import { loadVerified } from "../../src/server/policy/load.ts";
import { executeRound } from "../../src/server/services/rounds/execute.ts";
import { triggerRound } from "../../src/server/services/rounds/lifecycle.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { fastSettings, registerTinyHouse, seedVotes, tempDir } from "../loop/fixtures.ts";

let t: TestDatabase;
let store: DirectoryCheckpointStore;
beforeAll(async () => {
  t = await createTestDatabase();
  store = new DirectoryCheckpointStore(await tempDir("trained-store"));
});
afterAll(() => t?.drop());

describe("a trained version's recorded sha256", () => {
  it("covers its config.json", async () => {
    const v0 = await registerTinyHouse(t.db);
    await seedVotes(t.db, v0.id, 24);
    await fastSettings(t.db);
    const { round } = await triggerRound({ db: t.db, triggeredBy: "admin" });
    await executeRound({ db: t.db, store, roundId: round.id, workerId: "digest-test", leaseSeconds: 10 });
    const v1 = (await t.db.trainingRound.findUniqueOrThrow({ where: { id: round.id }, include: { resultVersion: true } })).resultVersion!;
    expect(v1).toMatchObject({ source: "TRAINED", parentId: v0.id });
    const dir = fileUriToPath(v1.checkpointUri);
    expect(v1.checkpointSha256).toBe(await checkpointDigest(dir));

    const cfgFile = path.join(dir, "config.json");
    const cfg = JSON.parse(await readFile(cfgFile, "utf8"));
    await writeFile(cfgFile, JSON.stringify({ ...cfg, layer_norm_epsilon: 0.25 }));
    await expect(loadVerified(store, v1)).rejects.toThrow(/changed after registration/);
  }, 300_000);
});
