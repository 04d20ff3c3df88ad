// A round end to end on real Postgres with a tiny real GPT: votes → pairs → DPO → gates →
// checkpoint → new SERVING version; and the ways a round must NOT change what is served.
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DirectoryCheckpointStore, fileUriToPath } from "../../src/server/policy/checkpoint-store.ts";
import { loadVerified } from "../../src/server/policy/load.ts";
import { executeRound } from "../../src/server/services/rounds/execute.ts";
import { triggerRound } from "../../src/server/services/rounds/lifecycle.ts";
import { promoteVersion, rollbackVersion } from "../../src/server/services/versions/promote.ts";
import { verifyVersionCheckpoint } from "../../src/server/services/versions/verify.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { fastSettings, registerTinyHouse, seedVotes, tempDir, trainableCount } from "./fixtures.ts";

let t: TestDatabase;
let store: DirectoryCheckpointStore;

async function runOne() {
  const { round } = await triggerRound({ db: t.db, triggeredBy: "admin", force: true });
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

const trainVotes = async (roundId: string) =>
  (await t.db.roundVote.findMany({ where: { roundId, split: "TRAIN" }, select: { voteId: true } })).map((r) => r.voteId).sort();

describe("a DPO round", () => {
  it("turns seeded votes into a new SERVING version, with metrics, absorbed votes and cached reference log-probs", async () => {
    const v0 = await registerTinyHouse(t.db);
    await seedVotes(t.db, v0.id, 40, { ties: 6 });
    await fastSettings(t.db);
    const trainable = await trainableCount(t.db);
    expect(trainable).toBeGreaterThan(20);
    expect(trainable).toBeLessThan(40); // the rest are on held-out prompts

    const { outcome, round } = await runOne();
    expect(round.error).toBeNull();
    expect(outcome).toBe("SUCCEEDED");
    expect(round.status).toBe("SUCCEEDED");
    expect(round.note).toBeNull();
    // ties are not DPO pairs; every decisive vote is either trained on or held out
    expect(round.pairsTrain).toBe(trainable);
    expect(round.pairsTrain + round.pairsHeldout).toBe(40);
    expect(round.usage).toMatchObject({
      new: trainable,
      returned: 0,
      versus: 0,
      replay: 0,
      train: trainable,
      heldout: 40 - trainable,
      dropped: 0,
    });
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
    const gates = round.gates as { name: string; passed: boolean; pValue?: number }[];
    expect(gates.map((g) => [g.name, g.passed])).toEqual([
      ["finite", true],
      ["heldout_size", true],
      ["heldout_improvement", true],
    ]);
    expect(gates[2]!.pValue).toBeLessThan(0.05);
    const summary = round.summary as { checkpoints: unknown[]; selectedStep: number };
    expect(summary.checkpoints.length).toBeGreaterThan(0);
    expect(summary.selectedStep).toBeGreaterThan(0);

    expect(await t.db.roundVote.count({ where: { roundId: round.id } })).toBe(40);
    expect(await trainableCount(t.db)).toBe(0);
    expect(await t.db.refLogprob.count({ where: { policyVersionId: v0.id } })).toBe(80);

    // the new checkpoint is in the store and verifies
    const loaded = await loadVerified(store, round.resultVersion!);
    expect(loaded.model.config.nEmbd).toBe(16);
    loaded.model.dispose();
  }, 300_000);

  it("with too few trainable pairs fails clearly and changes nothing", async () => {
    const before = await serving();
    await expect(triggerRound({ db: t.db, triggeredBy: "admin" })).rejects.toThrow(/Not ready for a round: 0 of 4 new votes/);
    const { outcome, round } = await runOne();
    expect(outcome).toBe("FAILED");
    expect(round.error).toMatch(/only 0 usable trainable decisive pairs/);
    expect((await serving()).id).toBe(before.id);
  });

  it("a failed gate registers the version as REJECTED and keeps serving the base; the next round trains on its pairs", async () => {
    const before = await serving();
    await seedVotes(t.db, before.id, 24, { offset: 100 });
    const available = await trainableCount(t.db);
    await fastSettings(t.db, { gates: { minHeldoutPairs: 10_000 } });
    const { outcome, round } = await runOne();
    expect(outcome).toBe("REJECTED");
    expect(round.status).toBe("REJECTED");
    expect(round.error).toMatch(/Enough held-out votes failed/);
    expect(round.resultVersion?.status).toBe("REJECTED");
    expect((await serving()).id).toBe(before.id);
    await expect(promoteVersion({ db: t.db, versionId: round.resultVersionId! })).rejects.toThrow(/rejected/);
    // Nothing is wasted: the rejected round's pairs are trainable again ...
    expect(await trainableCount(t.db)).toBe(available);
    await fastSettings(t.db);
    const next = await runOne();
    // ... and the next round trains on exactly them, counted as returned.
    expect(next.round.error).toBeNull();
    expect(await trainVotes(next.round.id)).toEqual(await trainVotes(round.id));
    expect(next.round.usage).toMatchObject({ new: 0, returned: available });
  }, 300_000);

  it("a round whose base stopped serving (an admin rollback) registers its result without serving it", async () => {
    const base = await serving();
    await seedVotes(t.db, base.id, 24, { offset: 300 });
    await fastSettings(t.db, { dpo: { epochs: 20 } }); // long enough to roll back while it trains
    const { round } = await triggerRound({ db: t.db, triggeredBy: "admin", force: true });
    const running = executeRound({ db: t.db, store, roundId: round.id, workerId: "test-worker", leaseSeconds: 10 });
    for (let i = 0; i < 3000 && (await t.db.roundMetric.count({ where: { roundId: round.id } })) < 2; i++)
      await new Promise((r) => setTimeout(r, 20));
    const back = await rollbackVersion({ db: t.db });
    expect(back.previousId).toBe(base.id);
    expect(await running).toBe("SUCCEEDED");
    const row = await t.db.trainingRound.findUniqueOrThrow({ where: { id: round.id }, include: { resultVersion: true } });
    // The rollback stands: the round did not put its result (a child of the rolled-back version) into service.
    expect((await serving()).id).toBe(back.versionId);
    expect(row.resultVersion?.status).toBe("CANDIDATE");
    expect(row.resultVersion?.parentId).toBe(base.id);
    expect(row.note).toMatch(
      new RegExp(`Gates passed, but ${row.resultVersion!.name} was not served: its base ${base.name} stopped serving`),
    );
    // Its votes were not absorbed into the serving lineage, so they are trainable again.
    expect(await trainableCount(t.db)).toBeGreaterThan(0);
  }, 300_000);

  it("measures drift at the served length on held-out prompts; the root budget stops promotion and says why", async () => {
    const base = await serving();
    await seedVotes(t.db, base.id, 24, { offset: 400 });
    await t.db.setting.upsert({
      where: { key: "sampling" },
      create: { key: "sampling", value: { maxNewTokens: 10 } },
      update: { value: { maxNewTokens: 10 } },
    });
    await fastSettings(t.db, { dpo: { klPrompts: 4, klSamplesPerPrompt: 2, lr: 1e-2 }, gates: { klBudget: 1000, rootKlBudget: 0.001 } });
    const { outcome, round } = await runOne();
    expect(outcome).toBe("REJECTED");
    const summary = round.summary as {
      klRoot: { kl: number; ucb: number; prompts: number; meanTokens: number };
      klRound: { kl: number };
      klServed: Record<string, unknown> | null;
      root: { name: string };
    };
    expect(summary.root.name).toBe("v0");
    expect(summary.klRoot.prompts).toBe(4);
    expect(summary.klRoot.meanTokens).toBeLessThanOrEqual(10);
    expect(summary.klRoot.ucb).toBeGreaterThan(0.001);
    expect(summary.klServed).not.toBeNull();
    const gates = round.gates as { name: string; passed: boolean }[];
    expect(gates.find((g) => g.name === "kl_round")?.passed).toBe(true);
    expect(gates.find((g) => g.name === "kl_root")?.passed).toBe(false);
    expect(round.error).toMatch(/Total drift within budget failed: KL from the lineage root v0 .* raise β .* "fixed"/);
    expect((await serving()).id).toBe(base.id);
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
      await fastSettings(t.db);
      const trainable = await trainableCount(t.db);
      const { outcome, round } = await runOne();
      expect(outcome).toBe("FAILED");
      expect(round.error).toMatch(/corrupt|sha256/);
      expect((await serving()).id).toBe(current.id);
      // votes of a FAILED round are available again
      expect(await trainableCount(t.db)).toBe(trainable);

      const v0 = await t.db.policyVersion.findFirstOrThrow({ where: { name: "v0" } });
      await writeFile(path.join(fileUriToPath(v0.checkpointUri), "model.safetensors"), Buffer.alloc(10));
      await expect(promoteVersion({ db: t.db, versionId: v0.id, verify: (x) => verifyVersionCheckpoint(x, store) })).rejects.toThrow(
        /refusing to serve v0/,
      );
      expect((await serving()).id).toBe(current.id);
    } finally {
      await writeFile(weights, good);
    }
  });
});
