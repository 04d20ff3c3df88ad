// FastChat's online Elo (`compute_elo`): one pass over the battles in time order.
import { type BattleRecord, ELO_K, INITIAL_RATING, RATING_BASE, RATING_SCALE } from "./types.ts";

const LN_BASE = Math.log(RATING_BASE);

export interface EloOptions {
  k?: number;
  initialRating?: number;
}

/**
 * Ratings after replaying the battles in time order: stably sorted by `tstamp` when every
 * battle has one (FastChat sorts by tstamp), in the given order otherwise. Self-battles are
 * skipped (they would move a model by +x and −x anyway).
 */
export function onlineElo(battles: readonly BattleRecord[], opts: EloOptions = {}): Record<string, number> {
  const k = opts.k ?? ELO_K;
  const init = opts.initialRating ?? INITIAL_RATING;
  const index = new Map<string, number>();
  const ratings: number[] = [];
  const id = (name: string): number => {
    let i = index.get(name);
    if (i === undefined) {
      i = ratings.length;
      index.set(name, i);
      ratings.push(init);
    }
    return i;
  };
  for (const r of chronological(battles)) {
    const b = battles[r];
    if (b.modelA === b.modelB) continue;
    const a = id(b.modelA),
      c = id(b.modelB);
    const ra = ratings[a],
      rb = ratings[c];
    // BASE ** x as exp(x·ln BASE): same value to rounding, several times faster in V8.
    const ea = 1 / (1 + Math.exp(((rb - ra) / RATING_SCALE) * LN_BASE));
    const eb = 1 / (1 + Math.exp(((ra - rb) / RATING_SCALE) * LN_BASE));
    const sa = scoreOfA(b.winner, r);
    ratings[a] = ra + k * (sa - ea);
    ratings[c] = rb + k * (1 - sa - eb);
  }
  return Object.fromEntries([...index].map(([name, i]) => [name, ratings[i]]));
}

/** Battle indices in replay order (see onlineElo). */
export function chronological(battles: readonly BattleRecord[]): Int32Array | number[] {
  const order = new Int32Array(battles.length);
  let sorted = true;
  let allStamped = true;
  for (let i = 0; i < battles.length; i++) {
    order[i] = i;
    const t = battles[i].tstamp;
    if (typeof t !== "number" || Number.isNaN(t)) allStamped = false;
    else if (i > 0 && sorted && t < (battles[i - 1].tstamp as number)) sorted = false;
  }
  if (!allStamped || sorted) return order;
  // Array.prototype.sort is stable; typed-array sort is too, but needs a plain comparator.
  return Array.from(order).sort((x, y) => (battles[x].tstamp as number) - (battles[y].tstamp as number) || x - y);
}

function scoreOfA(winner: string, row: number): number {
  switch (winner) {
    case "model_a":
      return 1;
    case "model_b":
      return 0;
    case "tie":
    case "tie (bothbad)":
      return 0.5;
    default:
      throw new Error(`battle ${row}: winner must be one of model_a, model_b, tie, "tie (bothbad)"; got ${JSON.stringify(winner)}`);
  }
}
