// Sampling one battle's two completions and storing them: on-policy (two samples of what serves
// now, in one call), serving-vs-earlier (one sample of each), a gold pair (its fixed texts
// replayed at the serving pace) or an external contestant against the serving policy. The text
// reaches the battle's job as it is sampled; generate.ts owns the job and the streams watching it.
// Another web replica may race on the same battle; Completion(battleId, slot) is unique, and the
// loser reads the winner's rows.
import { randomInt } from "node:crypto";
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { isUniqueViolation } from "../../db/unique-violation.ts";
import type { GenerateResult, TokenEvent } from "../../sampler/index.ts";
import { getArenaSettings, servingLengthUnit } from "../arena-settings/index.ts";
import { sampleContestantBattle } from "../contestants/battle.ts";
import type { BattleEvent, BattleSampler, SlotName } from "./generate.ts";
import { goldSlots } from "./gold.ts";
import { recentPace, replayGold } from "./gold-replay.ts";
import type { StoredCompletion } from "./lockstep.ts";

/** What sampling writes into a battle's job (the text so far, the finished slots); its abort signal stops sampling. */
export interface SamplingJob {
  abort: AbortController;
  texts: Record<SlotName, string>;
  done: Partial<Record<SlotName, { text: string; finishReason: string }>>;
}

/** What sampling a battle needs to know about it (read once by watchBattle). */
export interface BattleToSample {
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

/**
 * A byte-level model can emit a NUL byte, which PostgreSQL text cannot hold; it is shown and
 * stored as U+FFFD (the token ids keep the exact bytes for training).
 */
export function displayText(text: string): string {
  return text.includes("\u0000") ? text.replaceAll("\u0000", "\uFFFD") : text;
}

/** Samples the battle's two sides, streams them into `job`, and stores them (or adopts another process's). */
export async function sampleBattle(
  db: PrismaClient,
  getSampler: () => Promise<BattleSampler>,
  battleId: string,
  battle: BattleToSample,
  job: SamplingJob,
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
  await storeOrAdopt(db, battleId, job, emit, () =>
    db.$transaction([
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
    ]),
  );
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
  job: SamplingJob,
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
  await storeOrAdopt(db, battleId, job, emit, () =>
    db.$transaction([
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
    ]),
  );
}

/**
 * Stores the battle's completions with `write` (one transaction). When another process stored
 * them first (Completion(battleId, slot) is unique), its rows are the ones the vote is about:
 * they replace what this job streamed.
 */
async function storeOrAdopt(
  db: PrismaClient,
  battleId: string,
  job: SamplingJob,
  emit: (e: BattleEvent) => void,
  write: () => Promise<unknown>,
) {
  try {
    await write();
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    const stored = await storedCompletions(db, battleId);
    if (!stored) throw err;
    for (const c of stored) markDone(job, emit, c.slot, c.text, c.finishReason, true);
  }
}

function markDone(job: SamplingJob, emit: (e: BattleEvent) => void, slot: SlotName, raw: string, finishReason: string, force = false) {
  if (job.done[slot] && !force) return;
  const text = displayText(raw);
  job.done[slot] = { text, finishReason };
  emit({ type: "done", slot, text, finishReason });
}

type CompletionRow = { slot: string | null; text: string; finishReason: string; firstTokenMs?: number | null; latencyMs?: number };

/** Both slots' stored completions in slot order, or null while they are not both stored. */
export function bothSlots(rows: CompletionRow[]): StoredCompletion[] | null {
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
