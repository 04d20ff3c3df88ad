// Samples a battle's two completions and stores them. One job per battle per process: a second
// tab or a reconnect subscribes to the running job and first gets the text so far. The job is
// not tied to any one subscriber, so a prefetched battle keeps sampling while nobody watches for
// a short while; it is cancelled when the battle is skipped, when its lease runs out, and when
// no stream has watched it for ABANDON_GRACE_MS (the labeler left), so sampling capacity goes to
// battles someone will vote on.
// Another web replica may race on the same battle; Completion(battleId, slot) is unique, and the
// loser reads the winner's rows.
import { randomInt } from "node:crypto";
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { AppError, newErrorId } from "../../errors.ts";
import { log } from "../../log.ts";
import {
  type GenerateOptions,
  type GenerateResult,
  SamplerBusyError,
  SamplerUnavailableError,
  type TokenEvent,
} from "../../sampler/index.ts";
import { getArenaSettings, servingLengthUnit } from "../arena-settings/index.ts";
import { sampleContestantBattle } from "../contestants/battle.ts";
import { goldSlots } from "./gold.ts";
import { recentPace, replayGold } from "./gold-replay.ts";
import { lockstep, replayStored, type StoredCompletion } from "./lockstep.ts";

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

interface Job {
  abort: AbortController;
  abandonTimer?: ReturnType<typeof setTimeout>;
  texts: Record<SlotName, string>;
  done: Partial<Record<SlotName, { text: string; finishReason: string }>>;
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

type CompletionRow = { slot: string | null; text: string; finishReason: string; firstTokenMs?: number | null; latencyMs?: number };

/** Both slots' stored completions in slot order, or null while they are not both stored. */
function bothSlots(rows: CompletionRow[]): StoredCompletion[] | null {
  if (rows.length < 2) return null;
  return rows
    .filter((r): r is CompletionRow & { slot: SlotName } => r.slot === "A" || r.slot === "B")
    .map((r) => ({
      slot: r.slot,
      text: r.text,
      finishReason: r.finishReason,
      firstTokenMs: r.firstTokenMs ?? null,
      latencyMs: r.latencyMs ?? 0,
    }))
    .sort((a, b) => a.slot.localeCompare(b.slot));
}

async function storedCompletions(db: PrismaClient, battleId: string) {
  return bothSlots(await db.completion.findMany({ where: { battleId }, select: { slot: true, text: true, finishReason: true } }));
}

/** What sampling a battle needs to know about it (read once by watchBattle). */
interface BattleToSample {
  kind: "ON_POLICY" | "VERSUS" | "CONTESTANT";
  swapped: boolean;
  /** null in a CONTESTANT battle's contestant slot */
  policyAId: number | null;
  policyBId: number | null;
  contestantId: number | null;
  promptId: string;
  leaseExpiresAt: Date;
  prompt: { text: string };
  /** a gold pair's fixed completions (gold.ts): replayed, not sampled */
  goldPair: { completionA: string; completionB: string } | null;
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
  job.finished = runJob(db, getSampler, battleId, battle, job, emit)
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

/**
 * A byte-level model can emit a NUL byte, which PostgreSQL text cannot hold; it is shown and
 * stored as U+FFFD (the token ids keep the exact bytes for training).
 */
export function displayText(text: string): string {
  return text.includes("\u0000") ? text.replaceAll("\u0000", "\uFFFD") : text;
}

async function runJob(
  db: PrismaClient,
  getSampler: () => Promise<BattleSampler>,
  battleId: string,
  battle: BattleToSample,
  job: Job,
  emit: (e: BattleEvent) => void,
) {
  const { sampling } = await getArenaSettings({ db });
  const signal = job.abort.signal;
  const sampler = battle.goldPair ? null : await getSampler();
  // The reason is an AppError with the labeler's message (see cancelBattleSampling).
  const stopIfCancelled = () => signal.throwIfAborted();
  stopIfCancelled();
  // The first-chosen policy's completion goes to A unless the left/right draw swapped them.
  const slotOf = (first: boolean): SlotName => (first !== battle.swapped ? "A" : "B");
  // displayText keeps lengths (one UTF-16 unit for one), so the offsets stay valid.
  const onText = (slot: SlotName) => (e: Pick<TokenEvent, "from" | "append">) => {
    const append = displayText(e.append);
    job.texts[slot] = job.texts[slot].slice(0, e.from) + append;
    emit({ type: "text", slot, from: e.from, append });
  };
  const base = {
    promptText: battle.prompt.text,
    temperature: sampling.temperature,
    topP: sampling.topP,
    topK: sampling.topK,
    maxNewTokens: sampling.maxNewTokens,
    signal,
  };

  type Sampled = { slot: SlotName; versionId: number; seed: number; c: GenerateResult["completions"][number] };
  let sampled: Sampled[];
  if (battle.goldPair) {
    // A gold pair, shown as an on-policy battle of whatever serves now (gold.ts).
    const serving = await db.policyVersion.findFirst({ where: { status: "SERVING" }, select: { id: true } });
    const versionId = serving?.id ?? battle.policyAId;
    if (versionId === null) throw new Error("a gold battle is stored with a version in slot A; this one has none");
    const texts = goldSlots(battle.goldPair, battle.swapped);
    const seed = randomInt(1, 2 ** 31 - 1);
    const r = await replayGold({
      texts,
      pace: await recentPace(db, versionId),
      signal,
      onText: (slot, from, append) => onText(slot)({ from, append }),
      onDone: (slot, text, finishReason) => markDone(job, emit, slot, text, finishReason),
      firstSlot: slotOf(true),
    });
    sampled = (["A", "B"] as const).map((slot) => ({ slot, versionId, seed, c: r[slot] }));
  } else if (!sampler) {
    throw new Error("unreachable: a sampled battle without a sampler");
  } else if (battle.kind === "CONTESTANT") {
    return runContestantJob(db, sampler, battleId, battle, job, emit, base, onText);
  } else if (battle.kind === "ON_POLICY") {
    // Two samples of whatever serves now, in one call (they share the prompt's forward pass).
    const seed = randomInt(1, 2 ** 31 - 1);
    const streams = [onText(slotOf(true)), onText(slotOf(false))];
    const r = await sampler.generate({ ...base, n: 2, seed, onToken: (e) => streams[e.index]?.(e) });
    sampled = r.completions.map((c, i) => ({ slot: slotOf(i === 0), versionId: r.versionId, seed, c }));
    for (const s of sampled) markDone(job, emit, s.slot, s.c.text, s.c.finishReason);
  } else {
    const one = async (first: boolean): Promise<Sampled> => {
      const seed = randomInt(1, 2 ** 31 - 1);
      const slot = slotOf(first);
      const r = await sampler.generate({
        ...base,
        n: 1,
        seed,
        versionId: first ? undefined : ((battle.swapped ? battle.policyAId : battle.policyBId) ?? undefined),
        onToken: onText(slot),
      });
      const c = r.completions[0]!;
      markDone(job, emit, slot, c.text, c.finishReason);
      return { slot, versionId: r.versionId, seed, c };
    };
    sampled = await Promise.all([one(true), one(false)]);
  }

  // A cancelled sample may come back cut short: never store it as the battle's completion.
  stopIfCancelled();
  const firstVersion = sampled.find((s) => s.slot === slotOf(true))!.versionId;
  try {
    await db.$transaction([
      // Not worth a WAL flush of its own: completions lost in a crash are sampled again, and a
      // vote on them commits synchronously, which flushes them first.
      db.$executeRaw`SET LOCAL synchronous_commit = off`,
      db.completion.createMany({
        data: sampled.map((s) => ({
          battleId,
          slot: s.slot,
          promptId: battle.promptId,
          policyVersionId: s.versionId,
          text: displayText(s.c.text),
          promptTokenIds: s.c.promptTokenIds,
          tokenIds: s.c.tokenIds,
          logprob: battle.goldPair ? null : s.c.logprob,
          temperature: base.temperature,
          topP: base.topP,
          topK: base.topK,
          maxNewTokens: base.maxNewTokens,
          seed: s.seed,
          finishReason: s.c.finishReason,
          firstTokenMs: s.c.firstTokenMs,
          latencyMs: s.c.latencyMs,
        })),
      }),
      // The serving version may have been swapped since the battle was created: record the truth.
      db.battle.update({
        where: { id: battleId },
        data:
          battle.kind === "ON_POLICY"
            ? { policyAId: firstVersion, policyBId: firstVersion }
            : battle.swapped
              ? { policyBId: firstVersion }
              : { policyAId: firstVersion },
      }),
    ]);
  } catch (err) {
    if ((err as { code?: string }).code !== "P2002") throw err;
    // Another process stored this battle's completions first; those are the ones the vote is about.
    const stored = await storedCompletions(db, battleId);
    if (!stored) throw err;
    for (const c of stored) markDone(job, emit, c.slot, c.text, c.finishReason, true);
  }
}

type SamplingBase = { promptText: string; temperature: number; topP: number; topK: number; maxNewTokens: number; signal: AbortSignal };

/**
 * The serving policy against an external contestant (services/contestants). Both sides reach
 * the labeler on one schedule, and only once the whole battle is stored is it "ready". When the
 * contestant failed, a serving sample took its slot and the battle is stored as on-policy.
 */
async function runContestantJob(
  db: PrismaClient,
  sampler: BattleSampler,
  battleId: string,
  battle: BattleToSample,
  job: Job,
  emit: (e: BattleEvent) => void,
  base: SamplingBase,
  onText: (slot: SlotName) => (e: TokenEvent) => void,
) {
  const { signal, promptText, ...sampling } = base;
  const contestantSlot: SlotName = battle.policyAId === null ? "A" : "B";
  const { unit } = await servingLengthUnit({ db });
  const r = await sampleContestantBattle({
    db,
    sampler,
    contestantId: battle.contestantId!,
    contestantSlot,
    promptText,
    sampling,
    unit: unit ?? "tokens",
    signal,
    onText: (slot, e) => onText(slot)({ ...e, index: 0, tokenIds: [] }),
    onDone: (slot, text, finishReason) => markDone(job, emit, slot, text, finishReason),
  });
  signal.throwIfAborted();
  const common = {
    battleId,
    promptId: battle.promptId,
    temperature: sampling.temperature,
    topP: sampling.topP,
    topK: sampling.topK,
    maxNewTokens: sampling.maxNewTokens,
  };
  const rows = r.sides.map((s) =>
    s.source === "local"
      ? {
          ...common,
          slot: s.slot,
          policyVersionId: s.versionId,
          text: displayText(s.c.text),
          promptTokenIds: s.c.promptTokenIds,
          tokenIds: s.c.tokenIds,
          logprob: s.c.logprob,
          seed: s.seed,
          finishReason: s.c.finishReason,
          firstTokenMs: s.c.firstTokenMs,
          latencyMs: s.c.latencyMs,
        }
      : {
          ...common,
          slot: s.slot,
          contestantId: s.contestantId,
          text: displayText(s.text),
          promptTokenIds: [],
          tokenIds: [],
          logprob: null,
          seed: s.seed,
          finishReason: s.finishReason,
          firstTokenMs: s.firstTokenMs,
          latencyMs: s.latencyMs,
        },
  );
  const versionOf = (slot: SlotName) => {
    const side = r.sides.find((s) => s.slot === slot)!;
    return side.source === "local" ? side.versionId : null;
  };
  try {
    await db.$transaction([
      db.$executeRaw`SET LOCAL synchronous_commit = off`,
      db.completion.createMany({ data: rows }),
      // Record who really answered: the serving version may have been swapped meanwhile, and a
      // failed contestant's slot went to a serving sample (an on-policy battle from then on).
      db.battle.update({
        where: { id: battleId },
        data: r.fellBack
          ? { kind: "ON_POLICY", contestantId: null, policyAId: versionOf("A"), policyBId: versionOf("B") }
          : { policyAId: versionOf("A"), policyBId: versionOf("B") },
      }),
    ]);
  } catch (err) {
    if ((err as { code?: string }).code !== "P2002") throw err;
    const stored = await storedCompletions(db, battleId);
    if (!stored) throw err;
    for (const c of stored) markDone(job, emit, c.slot, c.text, c.finishReason, true);
  }
}

function markDone(job: Job, emit: (e: BattleEvent) => void, slot: SlotName, raw: string, finishReason: string, force = false) {
  if (job.done[slot] && !force) return;
  const text = displayText(raw);
  job.done[slot] = { text, finishReason };
  emit({ type: "done", slot, text, finishReason });
}
