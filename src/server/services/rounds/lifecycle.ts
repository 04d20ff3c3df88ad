// A round's life: QUEUED (trigger) → RUNNING (claimed by one trainer, which keeps renewing a
// lease) → SUCCEEDED | REJECTED | FAILED | CANCELLED. A trainer that dies stops renewing; any
// other trainer's reaper then marks the round FAILED and its votes count as unused again.
import { hostname } from "node:os";
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { isUniqueViolation } from "../../db/unique-violation.ts";
import { loopError } from "../versions/errors.ts";
import { loopReadiness } from "./readiness.ts";
import { getLoopSettings } from "./settings.ts";

export const ACTIVE_STATUSES = ["QUEUED", "RUNNING"] as const;

export function defaultWorkerId(): string {
  return `${hostname()}:${process.pid}`;
}

export interface TriggerResult {
  round: { id: string; number: number; status: string };
  /** false when a round was already queued or running: that one is returned instead */
  created: boolean;
}

export async function triggerRound(opts: {
  db: PrismaClient;
  triggeredBy: "admin" | "schedule";
  triggeredById?: string | null;
  /**
   * Start even though the loop is not ready (too few new or held-out votes, drift budget spent).
   * Without it such a trigger is refused with what is missing: a round below the held-out
   * minimum cannot pass its gates, so starting one must be a deliberate choice.
   */
  force?: boolean;
}): Promise<TriggerResult> {
  const { db } = opts;
  const settings = await getLoopSettings({ db });
  if (!opts.force) {
    const active = await db.trainingRound.findFirst({
      where: { status: { in: [...ACTIVE_STATUSES] } },
      select: { id: true, number: true, status: true },
    });
    if (active) return { round: active, created: false };
    const ready = await loopReadiness({ db, settings });
    if (!ready.ready) throw loopError("CONFLICT", `Not ready for a round: ${ready.reasons.join("; ")}. Confirm to start anyway.`);
  }
  try {
    const round = await db.trainingRound.create({
      data: {
        status: "QUEUED",
        config: { dpo: settings.dpo, gates: settings.gates },
        triggeredBy: opts.triggeredBy,
        triggeredById: opts.triggeredById ?? null,
      },
      select: { id: true, number: true, status: true },
    });
    return { round, created: true };
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    const active = await db.trainingRound.findFirst({
      where: { status: { in: [...ACTIVE_STATUSES] } },
      select: { id: true, number: true, status: true },
    });
    // The active round finished between our insert and this read: try once more.
    if (!active) return triggerRound(opts);
    return { round: active, created: false };
  }
}

export async function cancelRound({ db, roundId }: { db: PrismaClient; roundId: string }) {
  const updated = await db.trainingRound.updateMany({
    where: { id: roundId, status: { in: [...ACTIVE_STATUSES] } },
    data: { status: "CANCELLED", finishedAt: new Date(), error: "cancelled by an admin" },
  });
  if (updated.count === 0) {
    const round = await db.trainingRound.findUnique({ where: { id: roundId }, select: { status: true, number: true } });
    if (!round) throw loopError("NOT_FOUND", `round ${roundId} does not exist`);
    throw loopError("CONFLICT", `round #${round.number} is already ${round.status}; only queued or running rounds can be cancelled`);
  }
  return { id: roundId, status: "CANCELLED" as const };
}

/** QUEUED → RUNNING for exactly one trainer. Returns false when someone else got it (or it was cancelled). */
export async function claimRound(opts: { db: PrismaClient; roundId: string; workerId: string; leaseSeconds: number }): Promise<boolean> {
  const now = new Date();
  const res = await opts.db.trainingRound.updateMany({
    where: { id: opts.roundId, status: "QUEUED" },
    data: {
      status: "RUNNING",
      workerId: opts.workerId,
      startedAt: now,
      leaseExpiresAt: new Date(now.getTime() + opts.leaseSeconds * 1000),
    },
  });
  return res.count === 1;
}

/** Renews the lease; false means the round is no longer ours (cancelled, or reaped as dead). */
export async function renewLease(opts: { db: PrismaClient; roundId: string; workerId: string; leaseSeconds: number }): Promise<boolean> {
  const res = await opts.db.trainingRound.updateMany({
    where: { id: opts.roundId, status: "RUNNING", workerId: opts.workerId },
    data: { leaseExpiresAt: new Date(Date.now() + opts.leaseSeconds * 1000) },
  });
  return res.count === 1;
}

/**
 * Marks RUNNING rounds whose lease expired as FAILED. Returns their ids. A trainer passes its
 * own id as `exceptWorkerId`: its rounds are alive by definition (a long synchronous step may
 * only have delayed its renewal).
 */
export async function reapExpiredRounds({ db, exceptWorkerId = "" }: { db: PrismaClient; exceptWorkerId?: string }): Promise<string[]> {
  const rows = await db.$queryRaw<{ id: string }[]>`
    UPDATE "TrainingRound"
       SET status = 'FAILED', "finishedAt" = now(),
           error = 'trainer ' || coalesce("workerId", '?') || ' stopped renewing its lease (killed, or lost the database); the serving version is unchanged and the round''s votes are available again'
     WHERE status = 'RUNNING' AND "leaseExpiresAt" < now() AND "workerId" IS DISTINCT FROM ${exceptWorkerId}
     RETURNING id`;
  return rows.map((r) => r.id);
}

/** Ends a round we own; a no-op (returns false) if it was cancelled or reaped meanwhile. */
export async function finishRound(opts: {
  db: PrismaClient;
  roundId: string;
  workerId: string;
  status: "FAILED" | "REJECTED" | "CANCELLED";
  error: string;
}): Promise<boolean> {
  const res = await opts.db.trainingRound.updateMany({
    where: { id: opts.roundId, status: "RUNNING", workerId: opts.workerId },
    data: { status: opts.status, error: opts.error.slice(0, 2000), finishedAt: new Date() },
  });
  return res.count === 1;
}
