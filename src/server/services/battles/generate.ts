// A battle's sampling job and the streams that watch it. One job per battle per process: a second
// tab or a reconnect subscribes to the running job and first gets the text so far. The job is
// not tied to any one subscriber, so a prefetched battle keeps sampling while nobody watches for
// a short while; it is cancelled when the battle is skipped, when its lease runs out, and when
// no stream has watched it for ABANDON_GRACE_MS (the labeler left), so sampling capacity goes to
// battles someone will vote on. What the job does (sample both sides, store them) is
// sample-battle.ts.
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { AppError, newErrorId } from "../../errors.ts";
import { log } from "../../log.ts";
import { type GenerateOptions, type GenerateResult, SamplerBusyError, SamplerUnavailableError } from "../../sampler/index.ts";
import { lockstep, replayStored } from "./lockstep.ts";
import { type BattleToSample, bothSlots, type SamplingJob, sampleBattle } from "./sample-battle.ts";

export { displayText } from "./sample-battle.ts";

export type SlotName = "A" | "B";

export type BattleEvent =
  /** the slot's text is now its first `from` characters followed by `append` */
  | { type: "text"; slot: SlotName; from: number; append: string }
  | { type: "done"; slot: SlotName; text: string; finishReason: string }
  | { type: "ready" }
  | { type: "error"; message: string };

/** What the battle service needs from the sampler (src/server/sampler). */
export interface BattleSampler {
  generate(opts: GenerateOptions): Promise<GenerateResult>;
}

/** How long a job keeps sampling with no stream watching (a reload reconnects well within it). */
export const ABANDON_GRACE_MS = 30_000;

interface Job extends SamplingJob {
  abandonTimer?: ReturnType<typeof setTimeout>;
  listeners: Set<(e: BattleEvent) => void>;
  finished: Promise<void>;
  /** set when the job ended; a late subscriber (before the job leaves the map) gets it replayed */
  outcome?: BattleEvent;
}

const globalJobs = globalThis as unknown as { __dpoArenaBattleJobs?: Map<string, Job> };
const jobs = (globalJobs.__dpoArenaBattleJobs ??= new Map<string, Job>());

/** Stops this process's sampling of a battle (skipped, expired); false when none runs here. */
export function cancelBattleSampling(battleId: string, reason: string): boolean {
  const job = jobs.get(battleId);
  if (!job) return false;
  job.abort.abort(new AppError("CONFLICT", { userMessage: `Sampling stopped: ${reason}.` }));
  return true;
}

function unwatch(job: Job, listener: (e: BattleEvent) => void, battleId: string): void {
  job.listeners.delete(listener);
  if (job.listeners.size > 0 || job.outcome || job.abandonTimer) return;
  job.abandonTimer = setTimeout(() => cancelBattleSampling(battleId, "nobody was watching this battle any more"), ABANDON_GRACE_MS);
  job.abandonTimer.unref?.();
}

export interface WatchOptions {
  db: PrismaClient;
  sampler: () => Promise<BattleSampler>;
  battleId: string;
  labelerId: string;
  onEvent: (e: BattleEvent) => void;
}

/**
 * Streams a battle to its labeler: stored completions at once, or the live job (started if
 * needed) from the text so far. `stop` unsubscribes (the job keeps running); `finished`
 * resolves once the job has stored both completions or failed.
 */
export async function watchBattle(opts: WatchOptions): Promise<{ stop: () => void; finished: Promise<void> }> {
  const { db, battleId, labelerId } = opts;
  // Both sides shown together, whatever their sampling speed (see lockstep.ts).
  const onEvent = lockstep(opts.onEvent);
  // One query for everything a watch (and the job it may start) needs.
  const battle = await db.battle.findUnique({
    where: { id: battleId },
    select: {
      labelerId: true,
      status: true,
      kind: true,
      swapped: true,
      policyAId: true,
      policyBId: true,
      contestantId: true,
      promptId: true,
      leaseExpiresAt: true,
      prompt: { select: { text: true } },
      completions: { select: { slot: true, text: true, finishReason: true, firstTokenMs: true, latencyMs: true } },
      goldPair: { select: { completionA: true, completionB: true } },
    },
  });
  if (!battle) throw new AppError("NOT_FOUND", { userMessage: "This battle does not exist." });
  if (battle.labelerId !== labelerId) throw new AppError("FORBIDDEN", { userMessage: "This battle was assigned to another labeler." });

  const stored = bothSlots(battle.completions);
  if (stored) {
    // An overlap copy (or a battle sampled before) plays at the pace it was sampled: shown all
    // at once, it would tell the labeler that other labelers judge the same pair.
    let endReplay!: () => void;
    const finished = new Promise<void>((r) => (endReplay = r));
    const stopReplay = replayStored(stored, (e) => {
      onEvent(e);
      if (e.type === "ready") endReplay();
    });
    return {
      stop: () => {
        stopReplay();
        endReplay();
      },
      finished,
    };
  }
  if (battle.status !== "OPEN") throw new AppError("CONFLICT", { userMessage: "This battle is no longer open (skipped or expired)." });

  let job = jobs.get(battleId);
  if (!job) job = startJob(db, opts.sampler, battleId, battle);
  for (const slot of ["A", "B"] as const) {
    const d = job.done[slot];
    if (d) onEvent({ type: "done", slot, text: d.text, finishReason: d.finishReason });
    else if (job.texts[slot]) onEvent({ type: "text", slot, from: 0, append: job.texts[slot] });
  }
  if (job.outcome) {
    onEvent(job.outcome);
    return { stop: () => {}, finished: job.finished };
  }
  job.listeners.add(onEvent);
  if (job.abandonTimer) {
    clearTimeout(job.abandonTimer);
    job.abandonTimer = undefined;
  }
  const j = job;
  return { stop: () => unwatch(j, onEvent, battleId), finished: j.finished };
}

function startJob(db: PrismaClient, getSampler: () => Promise<BattleSampler>, battleId: string, battle: BattleToSample): Job {
  const job: Job = { abort: new AbortController(), texts: { A: "", B: "" }, done: {}, listeners: new Set(), finished: Promise.resolve() };
  // Nobody can vote on it after its lease (another labeler gets the prompt): stop sampling then.
  const leaseTimer = setTimeout(
    () => cancelBattleSampling(battleId, "this battle's lease ran out"),
    Math.max(0, battle.leaseExpiresAt.getTime() - Date.now()),
  );
  leaseTimer.unref?.();
  const emit = (e: BattleEvent) => {
    for (const l of job.listeners) l(e);
  };
  jobs.set(battleId, job);
  const end = (e: BattleEvent) => {
    job.outcome = e;
    emit(e);
  };
  job.finished = sampleBattle(db, getSampler, battleId, battle, job, emit)
    .then(() => end({ type: "ready" }))
    .catch((err: unknown) =>
      end({ type: "error", message: userMessageOf(job.abort.signal.aborted ? job.abort.signal.reason : err, battleId) }),
    )
    .finally(() => {
      clearTimeout(leaseTimer);
      if (job.abandonTimer) clearTimeout(job.abandonTimer);
      jobs.delete(battleId);
    });
  return job;
}

function userMessageOf(err: unknown, battleId: string): string {
  if (err instanceof AppError) return err.userMessage;
  if (err instanceof SamplerUnavailableError) return `No model can sample right now: ${err.message}.`;
  if (err instanceof SamplerBusyError) return err.message;
  const errorId = newErrorId();
  log.error("battles: sampling failed", { battleId, errorId, err });
  return `Sampling this battle failed (error id ${errorId}). Skip it (s) or reload.`;
}
