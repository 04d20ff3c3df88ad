// Preference pairs as token ids, and the no-grad scoring the round needs around training:
// reference log-probs and held-out evaluation (the KL measurement is in kl.ts).
import { type CausalLM, type ScoreItem, scoreCompletions } from "../lm/index.ts";

export interface Pair {
  /** Conditioning ids, e.g. encodePrompt(tok, text) (starts with BOS). */
  promptIds: number[];
  chosenIds: number[];
  rejectedIds: number[];
  /** the prompt the pair belongs to, for standard errors clustered by prompt */
  cluster?: string | number;
  /**
   * How much the pair counts in the training loss (default 1), e.g. the probability that its
   * vote is right (labeler quality). Held-out evaluation ignores it.
   */
  weight?: number;
}

/** Summed completion log-probs of each pair's chosen and rejected completion under one model. */
export interface PairLogps {
  chosen: number[];
  rejected: number[];
}

export function validatePairs(what: string, pairs: readonly Pair[], model: CausalLM): void {
  const { nPositions, vocabSize } = model.config;
  pairs.forEach((p, i) => {
    if (!p || !Array.isArray(p.promptIds) || !Array.isArray(p.chosenIds) || !Array.isArray(p.rejectedIds)) {
      throw new Error(`${what}[${i}]: expected { promptIds, chosenIds, rejectedIds } arrays of token ids`);
    }
    if (p.weight !== undefined && !(Number.isFinite(p.weight) && p.weight >= 0 && p.weight <= 1))
      throw new Error(`${what}[${i}].weight = ${p.weight}; a pair's weight must be in [0, 1]`);
    if (p.promptIds.length === 0) throw new Error(`${what}[${i}]: the prompt is empty; it needs at least a BOS token to condition on`);
    for (const side of ["chosenIds", "rejectedIds"] as const) {
      const ids = p[side];
      if (ids.length === 0) throw new Error(`${what}[${i}].${side} is empty; a completion needs at least one token`);
      const total = p.promptIds.length + ids.length;
      if (total > nPositions) {
        throw new Error(
          `${what}[${i}]: prompt (${p.promptIds.length}) + ${side} (${ids.length}) = ${total} tokens exceeds the model context of ${nPositions}`,
        );
      }
    }
    for (const ids of [p.promptIds, p.chosenIds, p.rejectedIds]) {
      for (const t of ids) {
        if (!Number.isInteger(t) || t < 0 || t >= vocabSize)
          throw new Error(`${what}[${i}]: token id ${t} is outside the vocabulary [0, ${vocabSize})`);
      }
    }
  });
}

export function validateLogps(what: string, logps: PairLogps, n: number): void {
  if (!logps || logps.chosen?.length !== n || logps.rejected?.length !== n) {
    throw new Error(`${what}: expected { chosen, rejected } with ${n} log-probs each (one per pair, in pair order)`);
  }
  for (const v of [...logps.chosen, ...logps.rejected]) {
    if (!Number.isFinite(v) || v > 1e-3) throw new Error(`${what}: ${v} is not a valid summed log-probability (must be finite and <= 0)`);
  }
}

/** Chosen completions first, then rejected, so one batch is one forward pass. */
export function pairItems(pairs: readonly Pair[]): ScoreItem[] {
  return [
    ...pairs.map((p) => ({ promptIds: p.promptIds, completionIds: p.chosenIds })),
    ...pairs.map((p) => ({ promptIds: p.promptIds, completionIds: p.rejectedIds })),
  ];
}

/**
 * Scores every pair's two completions. A (prompt, completion) that occurs in several pairs is
 * scored once: scores do not depend on batch composition (the forward pass is exact under
 * right padding), so sharing them changes nothing but the cost. Yields to the event loop
 * between batches and stops there when `signal` is aborted: scoring a large round's reference
 * takes minutes on a small machine.
 */
export async function scorePairs(model: CausalLM, pairs: readonly Pair[], batchSize: number, signal?: AbortSignal): Promise<PairLogps> {
  if (pairs.length === 0) return { chosen: [], rejected: [] };
  const items = pairItems(pairs);
  const slot = new Map<string, number>();
  const unique: ScoreItem[] = [];
  const slotOf = items.map((it) => {
    const key = `${it.promptIds.join(",")}|${it.completionIds.join(",")}`;
    let s = slot.get(key);
    if (s === undefined) {
      s = unique.push(it) - 1;
      slot.set(key, s);
    }
    return s;
  });
  const sum: number[] = [];
  for (let start = 0; start < unique.length; start += batchSize) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    signal?.throwIfAborted();
    sum.push(...scoreCompletions(model, unique.slice(start, start + batchSize), { batchSize }).sum);
  }
  const all = slotOf.map((s) => sum[s]);
  return { chosen: all.slice(0, pairs.length), rejected: all.slice(pairs.length) };
}
