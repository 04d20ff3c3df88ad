// A round end to end on real Postgres with a tiny real GPT: votes → pairs → DPO → gates →
// checkpoint → new SERVING version; and the ways a round must NOT change what is served.
import { writeFile, readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { DirectoryCheckpointStore, fileUriToPath } from "../../src/server/policy/checkpoint-store.ts";
import { loadVerified } from "../../src/server/policy/load.ts";
import { executeRound } from "../../src/server/services/rounds/execute.ts";
import { triggerRound } from "../../src/server/services/rounds/lifecycle.ts";
import { countUnusedDecisiveVotes } from "../../src/server/services/rounds/pairs.ts";
import { promoteVersion } from "../../src/server/services/versions/promote.ts";
import { verifyVersionCheckpoint } from "../../src/server/services/versions/verify.ts";
import { fastSettings, registerTinyHouse, seedVotes, tempDir } from "./fixtures.ts";

let t: TestDatabase;
let store: DirectoryCheckpointStore;

async function runOne() {
  const { round } = await triggerRound({ db: t.db, triggeredBy: "admin" });
  const outcome = await executeRound({ db: t.db, store, roundId: round.id, workerId: "test-worker", leaseSeconds: 10 });
  const row = await t.db.trainingRound.findUniqueOrThrow({ where: { id: round.id }, include: { resultVersion: true } });
  return { outcome, round: row };
}

const serving = () => t.db.policyVersion.findFirstOrThrow({ where: { status: "SERVING" }, select: { id: true, name: true } });

beforeAll(async () => {
  t = await createTestDatabase();
  store = new DirectoryCheckpointStore(await tempDir("store"));
});
afterAll(async () => {
  await t?.drop();
});

describe("a DPO round", () => {
  it("turns seeded votes into a new SERVING version, with metrics, used votes and cached reference log-probs", async () => {
    const v0 = await registerTinyHouse(t.db);
    await seedVotes(t.db, v0.id, 40, { ties: 6 });
    await fastSettings(t.db);
    expect(await countUnusedDecisiveVotes(t.db)).toBe(40);

    const { outcome, round } = await runOne();
    expect(round.error).toBeNull();
    expect(outcome).toBe("SUCCEEDED");
    expect(round.status).toBe("SUCCEEDED");
    // ties are not DPO pairs
    expect(round.pairsTrain + round.pairsHeldout).toBe(40);
    expect(round.pairsHeldout).toBeGreaterThan(0);
    expect(round.baseVersionId).toBe(v0.id);
    expect(round.resultVersion?.status).toBe("SERVING");
    expect(round.resultVersion?.parentId).toBe(v0.id);
    expect(round.resultVersion?.name).toBe("v1");
    expect((await serving()).id).toBe(round.resultVersionId);
    expect((await t.db.policyVersion.findUniqueOrThrow({ where: { id: v0.id } })).status).toBe("RETIRED");

    const steps = Math.ceil(round.pairsTrain / 8) * 3;
    const metrics = await t.db.roundMetric.findMany({ where: { roundId: round.id }, orderBy: { step: "asc" } });
    expect(metrics.map((m) => m.step)).toEqual(Array.from({ length: steps }, (_, i) => i));
    const first = metrics[0]!.values as Record<string, number>;
    expect(first.loss).toBeCloseTo(Math.LN2, 5);
    expect(first["rewards/accuracies"]).toBe(0);
    const gates = round.gates as { name: string; passed: boolean }[];
    expect(gates.find((g) => g.name === "heldout_accuracy")?.passed).toBe(true);

    expect(await t.db.roundVote.count({ where: { roundId: round.id } })).toBe(40);
    expect(await countUnusedDecisiveVotes(t.db)).toBe(0);
    expect(await t.db.refLogprob.count({ where: { policyVersionId: v0.id } })).toBe(80);

    // the new checkpoint is in the store and verifies
    const loaded = await loadVerified(store, round.resultVersion!);
    expect(loaded.model.config.nEmbd).toBe(16);
    loaded.model.dispose();
  }, 300_000);

  it("with too few new pairs fails clearly and changes nothing", async () => {
    const before = await serving();
    const { outcome, round } = await runOne();
    expect(outcome).toBe("FAILED");
    expect(round.error).toMatch(/only 0 usable new decisive pairs/);
    expect((await serving()).id).toBe(before.id);
  });

  it("a failed gate registers the version as REJECTED and keeps serving the base; its votes stay used", async () => {
    const before = await serving();
    await seedVotes(t.db, before.id, 24, { offset: 100 });
    await fastSettings(t.db, { gates: { minHeldoutAccuracy: 1 } });
    const { outcome, round } = await runOne();
    expect(outcome).toBe("REJECTED");
    expect(round.status).toBe("REJECTED");
    expect(round.error).toMatch(/heldout_accuracy failed/);
    expect(round.resultVersion?.status).toBe("REJECTED");
    expect((await serving()).id).toBe(before.id);
    await expect(promoteVersion({ db: t.db, versionId: round.resultVersionId! })).rejects.toThrow(/rejected/);
    expect(await countUnusedDecisiveVotes(t.db)).toBe(0);
  }, 300_000);

  it("a corrupt checkpoint is refused: the round fails, promotion is refused, the previous version keeps serving", async () => {
    const current = await serving();
    const v = await t.db.policyVersion.findUniqueOrThrow({ where: { id: current.id } });
    const weights = path.join(fileUriToPath(v.checkpointUri), "model.safetensors");
    const good = await readFile(weights);
    const bad = Buffer.from(good);
    bad[bad.length - 5] ^= 0xff; // one flipped byte in the weights
    await writeFile(weights, bad);
    try {
      await seedVotes(t.db, current.id, 12, { offset: 200 });
      await fastSettings(t.db, { gates: { minHeldoutAccuracy: 0 } });
      const { outcome, round } = await runOne();
      expect(outcome).toBe("FAILED");
      expect(round.error).toMatch(/corrupt|sha256/);
      expect((await serving()).id).toBe(current.id);
      // votes of a FAILED round are available again
      expect(await countUnusedDecisiveVotes(t.db)).toBe(12);

      const v0 = await t.db.policyVersion.findFirstOrThrow({ where: { name: "v0" } });
      await writeFile(path.join(fileUriToPath(v0.checkpointUri), "model.safetensors"), Buffer.alloc(10));
      await expect(promoteVersion({ db: t.db, versionId: v0.id, verify: (x) => verifyVersionCheckpoint(x, store) })).rejects.toThrow(/refusing to serve v0/);
      expect((await serving()).id).toBe(current.id);
    } finally {
      await writeFile(weights, good);
    }
  });
});
