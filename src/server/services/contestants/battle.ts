// Samples a CONTESTANT battle: the serving policy's completion from the local sampler and the
// contestant's from its endpoint, side by side, released on one schedule (pacer.ts) and cut by
// the local stop rule (cut.ts). If the contestant cannot answer (unreachable, an HTTP error, a
// broken stream, no first byte within FIRST_BYTE_TIMEOUT_MS), the failure is recorded on the
// contestant (the admin sees it) and a second serving sample takes the slot: the labeler still
// gets a battle to vote on, and it becomes an ordinary on-policy battle.
import { randomInt } from "node:crypto";
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { log } from "../../log.ts";
import type { GenerateResult, TokenEvent } from "../../sampler/index.ts";
import type { LengthUnit } from "../../sampler/stop-rule.ts";
import type { BattleSampler } from "../battles/generate.ts";
import { streamAnswer } from "./client.ts";
import { ContestantCut } from "./cut.ts";
import { endpointOf, recordFailure, recordSuccess } from "./manage.ts";
import { Pacer } from "./pacer.ts";

export const FIRST_BYTE_TIMEOUT_MS = 15_000;

type Slot = "A" | "B";

export interface ContestantSampleOptions {
  db: PrismaClient;
  sampler: BattleSampler;
  contestantId: number;
  /** the contestant's slot (the one without a version) */
  contestantSlot: Slot;
  promptText: string;
  sampling: { temperature: number; topP: number; topK: number; maxNewTokens: number };
  /** the serving model's length unit (bytes or tokens): the contestant is cut in the same unit */
  unit: LengthUnit;
  signal: AbortSignal;
  onText: (slot: Slot, e: { from: number; append: string }) => void;
  onDone: (slot: Slot, text: string, finishReason: string) => void;
}

/** One stored side of the battle: from the local sampler or from the contestant. */
export type SampledSide =
  | { source: "local"; slot: Slot; versionId: number; seed: number; c: GenerateResult["completions"][number] }
  | {
      source: "contestant";
      slot: Slot;
      contestantId: number;
      seed: number;
      text: string;
      finishReason: string;
      firstTokenMs: number | null;
      latencyMs: number;
    };

export interface ContestantBattleResult {
  sides: SampledSide[];
  /** the contestant failed and a serving sample took its slot */
  fellBack: boolean;
}

export async function sampleContestantBattle(o: ContestantSampleOptions): Promise<ContestantBattleResult> {
  const localSlot: Slot = o.contestantSlot === "A" ? "B" : "A";
  const slotOf = (side: "local" | "remote"): Slot => (side === "local" ? localSlot : o.contestantSlot);
  const pacer = new Pacer({
    text: (side, from, append) => o.onText(slotOf(side), { from, append }),
    done: (side, text, finishReason) => o.onDone(slotOf(side), text, finishReason),
  });
  // Ends both producers when the battle is cancelled or either side fails for good.
  const inner = new AbortController();
  const signal = AbortSignal.any([o.signal, inner.signal]);
  const base = { promptText: o.promptText, ...o.sampling, n: 1, signal };

  const local = async (side: "local" | "remote"): Promise<SampledSide> => {
    const seed = randomInt(1, 2 ** 31 - 1);
    const r = await o.sampler.generate({ ...base, seed, onToken: (e: TokenEvent) => pacer.update(side, e.from, e.append) });
    const c = r.completions[0]!;
    pacer.finish(side, c.text, c.finishReason);
    return { source: "local", slot: slotOf(side), versionId: r.versionId, seed, c };
  };

  const remote = async (): Promise<SampledSide> => {
    const seed = randomInt(1, 2 ** 31 - 1);
    const started = performance.now();
    let firstTokenMs: number | null = null;
    try {
      const row = await o.db.contestant.findUniqueOrThrow({
        where: { id: o.contestantId },
        select: { baseUrl: true, model: true, api: true, apiKeyEncrypted: true },
      });
      const cut = new ContestantCut(o.unit, o.sampling.maxNewTokens);
      const outcome = await streamAnswer(endpointOf(row), {
        prompt: o.promptText,
        maxTokens: cut.requestTokens,
        temperature: o.sampling.temperature,
        topP: o.sampling.topP,
        seed,
        signal,
        firstByteTimeoutMs: FIRST_BYTE_TIMEOUT_MS,
        onDelta: (text) => {
          firstTokenMs ??= Math.round(performance.now() - started);
          const ended = cut.push(text);
          pacer.set("remote", cut.text);
          return ended;
        },
      });
      cut.end(outcome.finishReason);
      pacer.finish("remote", cut.text, cut.finish ?? "eos");
      await recordSuccess(o.db, o.contestantId).catch((err: unknown) => log.warn("contestants: could not record a success", { err }));
      return {
        source: "contestant",
        slot: o.contestantSlot,
        contestantId: o.contestantId,
        seed,
        text: cut.text,
        finishReason: cut.finish ?? "eos",
        firstTokenMs,
        latencyMs: Math.round(performance.now() - started),
      };
    } catch (err) {
      signal.throwIfAborted();
      const message = await recordFailure(o.db, o.contestantId, err);
      log.warn("contestants: endpoint failed; a serving sample takes its slot", { contestantId: o.contestantId, error: message });
      pacer.restart("remote");
      return local("remote");
    }
  };

  const aborted = new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
  aborted.catch(() => {}); // observed below only if the battle is cancelled while releasing
  try {
    const sides = await Promise.all([local("local"), remote()]);
    // Both texts are complete; the last of them is still being released on the shared schedule.
    await Promise.race([pacer.finished, aborted]);
    return { sides, fellBack: sides[1]!.source === "local" };
  } finally {
    pacer.stop();
    inner.abort();
  }
}
