// Trainers coordinating through Postgres: two trainers and concurrent triggers run one round;
// a trainer killed with SIGKILL mid-round leaves serving untouched, its round FAILED by lease
// expiry and its votes usable by the next round (which another trainer then runs).
import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/server/log.ts";
import { triggerRound } from "../../src/server/services/rounds/lifecycle.ts";
import { startTrainer, type Trainer } from "../../workers/trainer-loop.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { fastSettings, registerTinyHouse, seedVotes, tempDir, trainableCount } from "./fixtures.ts";

let t: TestDatabase;
let checkpointDir: string;
const trainers: Trainer[] = [];
let child: ChildProcess | null = null;
const quiet = createLogger({}, () => {});

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 180_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  t = await createTestDatabase();
  checkpointDir = await tempDir("ckpt");
});
afterAll(async () => {
  child?.kill("SIGKILL");
  for (const tr of trainers) await tr.stop();
  await t?.drop();
});

describe("trainers", () => {
  it("two trainers triggered concurrently run exactly one round", async () => {
    const v0 = await registerTinyHouse(t.db);
    await seedVotes(t.db, v0.id, 24);
    await fastSettings(t.db);
    for (const workerId of ["trainer-a", "trainer-b"]) {
      trainers.push(await startTrainer({ databaseUrl: t.url, checkpointDir, workerId, tickMs: 300, leaseSeconds: 10, log: quiet }));
    }
    const results = await Promise.all(trainers.map(() => triggerRound({ db: t.db, triggeredBy: "admin", force: true })));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const roundId = results[0]!.round.id;
    const done = await until("the round to finish", async () => {
      const r = await t.db.trainingRound.findUnique({ where: { id: roundId } });
      return r && ["SUCCEEDED", "REJECTED", "FAILED"].includes(r.status) ? r : null;
    });
    expect(done.error).toBeNull();
    expect(done.status).toBe("SUCCEEDED");
    expect(["trainer-a", "trainer-b"]).toContain(done.workerId);
    await new Promise((r) => setTimeout(r, 1000)); // give a duplicate a chance to show up
    expect(await t.db.trainingRound.count()).toBe(1);
    expect(await t.db.policyVersion.count()).toBe(2);
  }, 300_000);

  it("kill -9 of a trainer mid-round: FAILED by lease expiry, serving unchanged, votes reused by the next round", async () => {
    for (const tr of trainers.splice(0)) await tr.stop();
    const servingBefore = await t.db.policyVersion.findFirstOrThrow({ where: { status: "SERVING" } });
    await seedVotes(t.db, servingBefore.id, 24, { offset: 500 });
    const trainable = await trainableCount(t.db);
    // Long enough that the kill lands mid-training.
    await fastSettings(t.db, { dpo: { epochs: 20 } });

    child = spawn(
      process.execPath,
      ["--import", "tsx", "workers/trainer.ts", "--lease-seconds", "6", "--tick-ms", "300", "--worker-id", "doomed"],
      {
        env: { ...process.env, DATABASE_URL: t.url, CHECKPOINT_DIR: checkpointDir, TF_BACKEND: "cpu", LOG_LEVEL: "warn" },
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += String(d)));
    const { round } = await triggerRound({ db: t.db, triggeredBy: "admin", force: true });
    await until(
      "training steps of the doomed trainer",
      async () => (await t.db.roundMetric.count({ where: { roundId: round.id } })) >= 2,
    ).catch((e) => {
      throw new Error(`${(e as Error).message}; child stderr: ${stderr.slice(-2000)}`);
    });
    expect((await t.db.trainingRound.findUniqueOrThrow({ where: { id: round.id } })).workerId).toBe("doomed");
    child.kill("SIGKILL");
    await new Promise((r) => child!.once("exit", r));
    child = null;

    // A surviving trainer reaps the round once the lease has expired.
    await fastSettings(t.db, { dpo: { epochs: 3 } });
    trainers.push(
      await startTrainer({ databaseUrl: t.url, checkpointDir, workerId: "survivor", tickMs: 300, leaseSeconds: 10, log: quiet }),
    );
    const failed = await until(
      "the lease to expire",
      async () => {
        const r = await t.db.trainingRound.findUniqueOrThrow({ where: { id: round.id } });
        return r.status === "FAILED" ? r : null;
      },
      60_000,
    );
    expect(failed.error).toMatch(/stopped renewing its lease/);
    expect(failed.resultVersionId).toBeNull();
    expect((await t.db.policyVersion.findFirstOrThrow({ where: { status: "SERVING" } })).id).toBe(servingBefore.id);
    expect(await trainableCount(t.db)).toBe(trainable);

    // The next round runs (the dead trainer's queue slot was freed) on the same votes.
    const next = await triggerRound({ db: t.db, triggeredBy: "admin", force: true });
    expect(next.created).toBe(true);
    const done = await until("the next round", async () => {
      const r = await t.db.trainingRound.findUniqueOrThrow({ where: { id: next.round.id } });
      return ["SUCCEEDED", "REJECTED", "FAILED"].includes(r.status) ? r : null;
    });
    expect(done.error).toBeNull();
    expect(done.status).toBe("SUCCEEDED");
    expect(done.workerId).toBe("survivor");
    expect(done.pairsTrain).toBe(trainable);
    expect(done.usage).toMatchObject({ returned: trainable, new: 0 });
    expect(await trainableCount(t.db)).toBe(0);
  }, 400_000);

  it("the schedule starts a round once enough new trainable votes exist, not before", async () => {
    const serving = await t.db.policyVersion.findFirstOrThrow({ where: { status: "SERVING" } });
    await fastSettings(t.db, { schedule: { autoTrain: true, minNewPairs: 8, checkIntervalSeconds: 1 } });
    // Votes on prompts of the training side only, one at a time, until one short of the threshold.
    let offset = 900;
    const addTrainable = async (target: number) => {
      while ((await trainableCount(t.db)) < target) await seedVotes(t.db, serving.id, 1, { offset: offset++ });
    };
    await addTrainable(7);
    const rounds = await t.db.trainingRound.count();
    await new Promise((r) => setTimeout(r, 2500)); // several schedule checks
    expect(await t.db.trainingRound.count()).toBe(rounds);
    await addTrainable(8);
    const scheduled = await until("a scheduled round", () =>
      t.db.trainingRound.findFirst({ where: { triggeredBy: "schedule", status: { in: ["SUCCEEDED", "REJECTED", "FAILED"] } } }),
    );
    expect(scheduled.error === null || scheduled.status === "REJECTED").toBe(true);
    expect(scheduled.pairsTrain).toBe(8);
  }, 300_000);
});
