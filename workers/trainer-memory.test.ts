// The trainer's memory does not grow from round to round (issue 18): every round the trainer
// runs loads its base, reference and root, trains a clone, saves it and must free all of it.
// Real rounds (executeRound, the function the trainer's job handler calls) on real Postgres with
// a tiny GPT; a tensor left behind per round would show in tf.memory() after each round.
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DirectoryCheckpointStore } from "../src/server/policy/checkpoint-store.ts";
import { executeRound } from "../src/server/services/rounds/execute.ts";
import { triggerRound } from "../src/server/services/rounds/lifecycle.ts";
import { createTestDatabase, type TestDatabase } from "../test/helpers/db.ts";
import { fastSettings, registerTinyHouse, seedVotes, tempDir } from "../test/loop/fixtures.ts";

let t: TestDatabase;
let store: DirectoryCheckpointStore;

beforeAll(async () => {
  t = await createTestDatabase();
  store = new DirectoryCheckpointStore(await tempDir("store"));
});
afterAll(async () => {
  await t?.drop();
});

describe("the trainer across rounds", () => {
  it("holds the same tensors and tensor bytes after every round (nothing leaks per round)", async () => {
    const v0 = await registerTinyHouse(t.db);
    await fastSettings(t.db, { dpo: { epochs: 1 } });
    const after: { numTensors: number; numBytes: number; outcome: string }[] = [];
    for (let r = 0; r < 4; r++) {
      const serving = await t.db.policyVersion.findFirstOrThrow({ where: { status: "SERVING" }, select: { id: true } });
      await seedVotes(t.db, r === 0 ? v0.id : serving.id, 16, { offset: 100 * r });
      const { round } = await triggerRound({ db: t.db, triggeredBy: "admin", force: true });
      const outcome = await executeRound({ db: t.db, store, roundId: round.id, workerId: "memory-test", leaseSeconds: 30 });
      const m = tf.memory();
      after.push({ numTensors: m.numTensors, numBytes: m.numBytes, outcome });
    }
    // the rounds really trained (a round that failed early would free its models trivially)
    for (const a of after) expect(["SUCCEEDED", "REJECTED"]).toContain(a.outcome);
    expect((await t.db.roundMetric.count()) > 0).toBe(true);
    // round 1 may leave lasting state (backend caches); rounds 2–4 must add nothing to it
    for (const a of after.slice(1)) {
      expect(a.numTensors).toBe(after[0].numTensors);
      expect(a.numBytes).toBe(after[0].numBytes);
    }
  });
});
