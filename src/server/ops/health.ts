// What /api/health reports: each part of the arena as this web process sees it. The web server
// itself (it answered), the database, this process's sampler, the trainers (their heartbeat
// rows) and, under `npm start` without DATABASE_URL, the embedded PostgreSQL. Only a database
// that does not answer makes the arena unavailable (503); a missing trainer or a sampler that
// failed to start is "degraded": votes are still taken, but rounds or battles wait.
import type { PrismaClient } from "../db/client.ts";
import { checkDatabase } from "../db/client.ts";
import { getEnv } from "../env.ts";
import { type SamplerStatus, samplerStatus } from "../sampler/index.ts";
import { eventLoopDelay, type LoopDelay } from "./event-loop.ts";

/** A trainer refreshes its row every tick (2 s); one silent this long has died or is stuck (a round's lease is as long). */
export const TRAINER_SILENT_AFTER_MS = 60_000;
const TRAINERS_LISTED_FOR_MS = 10 * 60_000;

export interface TrainerPart {
  ok: boolean;
  /** TRAINER_ENABLED of this process's environment (a trainer may run elsewhere on the same database) */
  enabledHere: boolean;
  running: number;
  workers: { workerId: string; alive: boolean; lastSeenSecondsAgo: number; upSeconds: number }[];
  note?: string;
}

export interface HealthReport {
  status: "ok" | "degraded" | "unavailable";
  parts: {
    web: { ok: true; pid: number; upSeconds: number; eventLoopDelayMs: LoopDelay };
    database: { ok: boolean; latencyMs: number; error?: string };
    sampler: SamplerStatus;
    trainer: TrainerPart | { ok: false; error: string };
    embeddedPostgres?: { ok: boolean; startedAt: string | null; note: string };
  };
}

async function trainerPart(db: PrismaClient, enabledHere: boolean, now: number): Promise<TrainerPart> {
  const rows = await db.trainerHeartbeat.findMany({
    where: { seenAt: { gte: new Date(now - TRAINERS_LISTED_FOR_MS) } },
    orderBy: { seenAt: "desc" },
    take: 20,
  });
  const workers = rows.map((r) => ({
    workerId: r.workerId,
    alive: now - r.seenAt.getTime() < TRAINER_SILENT_AFTER_MS,
    lastSeenSecondsAgo: Math.max(0, Math.round((now - r.seenAt.getTime()) / 1000)),
    upSeconds: Math.max(0, Math.round((now - r.startedAt.getTime()) / 1000)),
  }));
  const running = workers.filter((w) => w.alive).length;
  return {
    ok: running > 0,
    enabledHere,
    running,
    workers,
    ...(running === 0 && { note: "no trainer has reported in the last minute: votes are kept, rounds wait until one runs" }),
  };
}

export async function checkHealth({ db, resetLoopDelay = false }: { db: PrismaClient; resetLoopDelay?: boolean }): Promise<HealthReport> {
  const env = getEnv();
  const production = env.NODE_ENV === "production";
  const now = Date.now();
  const database = await checkDatabase(db);
  const web = {
    ok: true as const,
    pid: process.pid,
    upSeconds: Math.round(process.uptime()),
    eventLoopDelayMs: eventLoopDelay(resetLoopDelay),
  };
  let sampler = samplerStatus();
  // Never show internal messages (paths, library errors) to anonymous callers in production.
  if (production && sampler.state === "failed") sampler = { ...sampler, error: "could not start (see the web server's log)" };

  let trainer: HealthReport["parts"]["trainer"] = { ok: false, error: "database unreachable" };
  let embeddedPostgres: HealthReport["parts"]["embeddedPostgres"];
  if (database.ok) {
    trainer = await trainerPart(db, env.TRAINER_ENABLED, now).catch(() => ({
      ok: false as const,
      error: "could not read trainer heartbeats",
    }));
  }
  if (env.DATABASE_EMBEDDED) {
    let startedAt: string | null = null;
    if (database.ok) {
      const rows = await db.$queryRaw<{ started: Date }[]>`SELECT pg_postmaster_start_time() AS started`.catch(() => []);
      startedAt = rows[0]?.started.toISOString() ?? null;
    }
    embeddedPostgres = {
      ok: database.ok,
      startedAt,
      note: database.ok
        ? "run by npm start, restarted by it if it exits"
        : "not answering; npm start restarts it when it exits (see its log)",
    };
  }
  const status = !database.ok ? "unavailable" : trainer.ok && sampler.ok ? "ok" : "degraded";
  return { status, parts: { web, database, sampler, trainer, ...(embeddedPostgres && { embeddedPostgres }) } };
}
