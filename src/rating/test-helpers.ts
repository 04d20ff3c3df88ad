// Battle builders shared by the rating tests.
import { createRng, type Rng } from "./random.ts";
import type { BattleRecord, Outcome } from "./types.ts";

export function repeat(n: number, modelA: string, modelB: string, winner: Outcome): BattleRecord[] {
  return Array.from({ length: n }, () => ({ modelA, modelB, winner }));
}

/** Battles drawn from a Bradley–Terry model with the given ratings (FastChat's 400/base-10 scale). */
export function synthetic(truth: Record<string, number>, count: number, seed: number, tieRate = 0): BattleRecord[] {
  const rng = createRng(seed);
  const names = Object.keys(truth);
  const out: BattleRecord[] = [];
  for (let k = 0; k < count; k++) {
    const a = pickIndex(rng, names.length);
    let b = pickIndex(rng, names.length);
    while (b === a) b = pickIndex(rng, names.length);
    const pa = 1 / (1 + 10 ** ((truth[names[b]] - truth[names[a]]) / 400));
    const winner: Outcome = rng.next() < tieRate ? "tie" : rng.next() < pa ? "model_a" : "model_b";
    out.push({ modelA: names[a], modelB: names[b], winner, tstamp: k });
  }
  return out;
}

export function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const rng = createRng(seed);
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = pickIndex(rng, i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function pickIndex(rng: Rng, n: number): number {
  return Math.floor(rng.next() * n);
}
