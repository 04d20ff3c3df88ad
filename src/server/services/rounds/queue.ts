// The job queue trainers coordinate through (pg-boss, in the arena's own Postgres).
// One queue with the `singleton` policy and one singleton key: at most one round job is active
// across all trainers. The TrainingRound table stays the source of truth (a partial unique
// index allows one QUEUED/RUNNING round); a job only says "go run round X".
import { createHash } from "node:crypto";
import PgBoss from "pg-boss";
import { z } from "zod";

export const ROUND_QUEUE = "dpo-round";
export const ROUND_SINGLETON_KEY = "dpo-round";
/** A round that runs longer than this is expired by pg-boss (its lease expired long before). */
export const ROUND_JOB_EXPIRE_SECONDS = 4 * 3600;

export const roundJobSchema = z.object({ roundId: z.string().min(1) });
export type RoundJob = z.infer<typeof roundJobSchema>;

/** Deterministic job id per round: sending twice is a no-op, and a reaper can fail the job by id. */
export function jobIdForRound(roundId: string): string {
  const h = createHash("sha256").update(`dpo-arena-round:${roundId}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export interface BossOptions {
  databaseUrl: string;
  /** web processes only send jobs: no maintenance or cron work there */
  sendOnly?: boolean;
}

export async function startBoss({ databaseUrl, sendOnly }: BossOptions): Promise<PgBoss> {
  const boss = new PgBoss({
    connectionString: databaseUrl,
    application_name: sendOnly ? "dpo-arena-web-queue" : "dpo-arena-trainer-queue",
    max: 3,
    supervise: !sendOnly,
    schedule: false,
  });
  await boss.start();
  const existing = await boss.getQueue(ROUND_QUEUE);
  if (!existing) {
    try {
      await boss.createQueue(ROUND_QUEUE, {
        name: ROUND_QUEUE,
        policy: "singleton",
        retryLimit: 0,
        expireInSeconds: ROUND_JOB_EXPIRE_SECONDS,
      });
    } catch (err) {
      // Another process created it between our check and our insert.
      if (!(await boss.getQueue(ROUND_QUEUE))) throw err;
    }
  }
  return boss;
}

export async function sendRoundJob(boss: PgBoss, roundId: string): Promise<void> {
  await boss.send(ROUND_QUEUE, { roundId } satisfies RoundJob, {
    id: jobIdForRound(roundId),
    singletonKey: ROUND_SINGLETON_KEY,
    retryLimit: 0,
    expireInSeconds: ROUND_JOB_EXPIRE_SECONDS,
  });
}
