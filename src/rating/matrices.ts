// Pairwise tables for the leaderboard's heat maps, from deduplicated cells.
import type { BattleCells } from "./cells.ts";

export interface ModelTally {
  battles: number;
  wins: number;
  losses: number;
  /** Ties and both-bad. */
  ties: number;
}

export interface PairwiseMatrices {
  /** Row order of both matrices. */
  models: string[];
  /** [r][c]: fraction of decisive battles between r and c that r won (ties excluded, as FastChat); null without any. */
  winFraction: (number | null)[][];
  /** [r][c]: battles between r and c including ties (symmetric). */
  battleCounts: number[][];
}

export function tallyByModel(cells: BattleCells): ModelTally[] {
  const t = cells.models.map(() => ({ battles: 0, wins: 0, losses: 0, ties: 0 }));
  for (let q = 0; q < cells.pairI.length; q++) {
    const i = t[cells.pairI[q]],
      j = t[cells.pairJ[q]];
    const w = cells.counts[3 * q],
      l = cells.counts[3 * q + 1],
      tie = cells.counts[3 * q + 2];
    i.wins += w;
    i.losses += l;
    j.wins += l;
    j.losses += w;
    i.ties += tie;
    j.ties += tie;
    i.battles += w + l + tie;
    j.battles += w + l + tie;
  }
  return t;
}

/** Matrices with rows and columns in `order` (defaults to the cells' model order). */
export function pairwiseMatrices(cells: BattleCells, order: readonly string[] = cells.models): PairwiseMatrices {
  const pos = new Map(order.map((m, k) => [m, k]));
  const at = cells.models.map((m) => {
    const k = pos.get(m);
    if (k === undefined) throw new Error(`pairwiseMatrices: order is missing model "${m}"`);
    return k;
  });
  const size = order.length;
  const wins = order.map(() => new Float64Array(size));
  const battleCounts = order.map(() => new Array<number>(size).fill(0));
  for (let q = 0; q < cells.pairI.length; q++) {
    const r = at[cells.pairI[q]],
      c = at[cells.pairJ[q]];
    const w = cells.counts[3 * q],
      l = cells.counts[3 * q + 1],
      tie = cells.counts[3 * q + 2];
    wins[r][c] += w;
    wins[c][r] += l;
    battleCounts[r][c] += w + l + tie;
    battleCounts[c][r] += w + l + tie;
  }
  const winFraction = order.map((_, r) =>
    order.map((_, c) => {
      const decisive = wins[r][c] + wins[c][r];
      return decisive > 0 ? wins[r][c] / decisive : null;
    }),
  );
  return { models: [...order], winFraction, battleCounts };
}
