// The trainer's loop, separate from the process entry point so tests can run it in-process.
// Trainers coordinate only through Postgres: pg-boss hands the one active round job to one of
// them; every trainer also reaps dead rounds, (re)sends jobs for queued rounds, and applies
// the schedule, so any of them can die without stopping the loop.
import os from "node:os";
import type PgBoss from "pg-boss";
import { createPrismaClient, type PrismaClient } from "../src/server/db/client.ts";
import { getEnv } from "../src/server/env.ts";
import { createLogger, type Logger } from "../src/server/log.ts";
import { type CheckpointStore, DirectoryCheckpointStore } from "../src/server/policy/checkpoint-store.ts";
import { pruneCheckpoints } from "../src/server/services/models/retention.ts";
import { executeRound } from "../src/server/services/rounds/execute.ts";
import { defaultWorkerId, reapExpiredRounds, triggerRound } from "../src/server/services/rounds/lifecycle.ts";
import { jobIdForRound, ROUND_QUEUE, roundJobSchema, sendRoundJob, startBoss } from "../src/server/services/rounds/queue.ts";
import { loopReadiness } from "../src/server/services/rounds/readiness.ts";
import { isTransientDbError, withDbRetry } from "../src/server/services/rounds/retry.ts";
import { getLoopSettings } from "../src/server/services/rounds/settings.ts";

export interface TrainerOptions {
  databaseUrl: string;
  checkpointDir: string;
  store?: CheckpointStore;
  workerId?: string;
  leaseSeconds?: number;
  /** how often to reap, re-send queued rounds and consider the schedule */
  tickMs?: number;
  log?: Logger;
}

export interface Trainer {
  workerId: string;
  db: PrismaClient;
  /** one maintenance pass (reap, re-send, schedule); the loop runs it every tickMs */
  tick(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTrainer(opts: TrainerOptions): Promise<Trainer> {
  const workerId = opts.workerId ?? defaultWorkerId();
  const log = (opts.log ?? createLogger({ component: "trainer" })).child({ workerId });
  const leaseSeconds = opts.leaseSeconds ?? 60;
  const store = opts.store ?? new DirectoryCheckpointStore(opts.checkpointDir);
  const db = createPrismaClient(opts.databaseUrl);
  if (store instanceof DirectoryCheckpointStore) {
    const removed = await store
      .cleanLeftovers()
      .catch((err: Error) => (log.warn("could not clean checkpoint leftovers", { error: err.message }), []));
    if (removed.length > 0) log.info("removed unfinished checkpoint copies left by crashed writers", { removed });
  }
  const shutdown = new AbortController();

  const boss: PgBoss = await withDbRetry(() => startBoss({ databaseUrl: opts.databaseUrl }), {
    attempts: 30,
    maxMs: 10_000,
    onRetry: (err, attempt, delay) =>
      log.warn("database unavailable; retrying", { attempt, delayMs: Math.round(delay), error: (err as Error).message }),
  });
  boss.on("error", (err) => log.warn("job queue error (it keeps retrying)", { error: err }));

  await boss.work(ROUND_QUEUE, { pollingIntervalSeconds: 0.5, batchSize: 1 }, async (jobs) => {
    for (const job of jobs) {
      const parsed = roundJobSchema.safeParse(job.data);
      if (!parsed.success) {
        log.error("ignoring a round job with an invalid payload", { jobId: job.id, issues: parsed.error.issues });
        continue;
      }
      const outcome = await executeRound({ db, store, roundId: parsed.data.roundId, workerId, leaseSeconds, log, signal: shutdown.signal });
      log.info("round job finished", { roundId: parsed.data.roundId, outcome });
    }
  });

  let lastScheduleCheck = 0;
  let lastPrune = 0;
  const startedAt = new Date();
  async function tick(): Promise<void> {
    // The web's health check counts a trainer as running while this row is recent.
    await beat({ db, workerId, startedAt });
    if (Date.now() - lastPrune >= 60_000) {
      lastPrune = Date.now();
      await pruneCheckpoints({ db, store, keepLast: getEnv().CHECKPOINT_KEEP_LAST, log: (msg, fields) => log.info(msg, fields) }).catch(
        (err) => log.warn("checkpoint retention pass failed; will retry", { error: (err as Error).message }),
      );
    }
    const reaped = await reapExpiredRounds({ db, exceptWorkerId: workerId });
    for (const id of reaped) {
      log.warn("round's trainer stopped renewing its lease; marked FAILED", { roundId: id });
      // Free pg-boss's singleton slot held by the dead trainer's job.
      await boss.fail(ROUND_QUEUE, jobIdForRound(id), { error: "trainer lease expired" }).catch(() => {});
    }
    const queued = await db.trainingRound.findMany({ where: { status: "QUEUED" }, select: { id: true } });
    for (const r of queued) await sendRoundJob(boss, r.id);

    const settings = await getLoopSettings({ db });
    const due = Date.now() - lastScheduleCheck >= settings.schedule.checkIntervalSeconds * 1000;
    if (settings.schedule.autoTrain && due && queued.length === 0) {
      lastScheduleCheck = Date.now();
      const active = await db.trainingRound.count({ where: { status: "RUNNING" } });
      // The decision (enough new and held-out votes, drift budget left) is the readiness service's.
      const readiness = active ? null : await loopReadiness({ db, settings });
      if (readiness?.ready) {
        const { round, created } = await triggerRound({ db, triggeredBy: "schedule", force: true });
        if (created)
          log.info("scheduled a round", {
            roundId: round.id,
            trainable: readiness.trainable,
            heldout: readiness.counts.heldout,
            threshold: settings.schedule.minNewPairs,
          });
        await sendRoundJob(boss, round.id);
      } else if (readiness?.drift.exhausted && readiness.enoughTrain) {
        log.warn("not starting a round: the drift budget is spent", { spent: readiness.drift.spent, budget: readiness.drift.budget });
      }
    }
  }

  let ticking = false;
  const timer = setInterval(() => {
    if (ticking) return;
    ticking = true;
    tick()
      .catch((err) =>
        isTransientDbError(err)
          ? log.warn("database unavailable during maintenance; will retry", { error: (err as Error).message })
          : log.error("trainer maintenance failed", { error: err }),
      )
      .finally(() => (ticking = false));
  }, opts.tickMs ?? 2000);
  await tick().catch((err) => log.warn("first maintenance pass failed; will retry", { error: err }));
  log.info("trainer started", { leaseSeconds });

  return {
    workerId,
    db,
    tick,
    async stop() {
      clearInterval(timer);
      shutdown.abort();
      // graceful: wait for the running round to notice the abort and record it
      await boss.stop({ graceful: true, wait: true, timeout: 30_000 }).catch(() => {});
      await db.trainerHeartbeat.deleteMany({ where: { workerId } }).catch(() => {});
      await db.$disconnect().catch(() => {});
      log.info("trainer stopped");
    },
  };
}

async function beat({ db, workerId, startedAt }: { db: PrismaClient; workerId: string; startedAt: Date }): Promise<void> {
  const seenAt = new Date();
  await db.trainerHeartbeat.upsert({
    where: { workerId },
    create: { workerId, pid: process.pid, host: os.hostname(), startedAt, seenAt },
    update: { pid: process.pid, startedAt, seenAt },
  });
  // Rows of trainers that died without saying so (kill -9) stop mattering after an hour.
  await db.trainerHeartbeat.deleteMany({ where: { seenAt: { lt: new Date(seenAt.getTime() - 3_600_000) } } });
}
