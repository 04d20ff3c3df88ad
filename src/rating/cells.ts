// Battles reduced to counts per (unordered pair, outcome) cell. Every rating computation after
// this step costs O(cells), not O(battles): with 129 models there are at most 24,768 cells
// however many millions of battles were cast.
import type { BattleRecord } from "./types.ts";

/**
 * Deduplicated battles. Models are sorted by name, so the cells (and therefore a seeded
 * bootstrap) do not depend on the order of the input. Pair p compares models
 * `pairI[p] < pairJ[p]`; its three cells are `counts[3p]` (i won), `counts[3p+1]` (j won) and
 * `counts[3p+2]` (tie or both-bad). Merging (a, b) with (b, a) changes neither the
 * Bradley–Terry likelihood nor the multinomial bootstrap (sums of multinomial cells are
 * multinomial), so it is exactly FastChat's method on half the cells.
 */
export interface BattleCells {
  models: string[];
  pairI: Int32Array;
  pairJ: Int32Array;
  counts: Float64Array;
  /** Rated battles (self-battles excluded). */
  total: number;
  /** Battles of a model against itself: DPO training data, not evidence about ratings. */
  selfBattles: number;
}

export function isBattleCells(x: unknown): x is BattleCells {
  return typeof x === "object" && x !== null && (x as BattleCells).counts instanceof Float64Array;
}

// Above this many models the dense M×M×3 scratch table would be too large; use a Map.
const DENSE_MODEL_LIMIT = 1024;

export function dedupBattles(battles: readonly BattleRecord[]): BattleCells {
  const index = new Map<string, number>();
  const names: string[] = [];
  const intern = (name: string, row: number): number => {
    let i = index.get(name);
    if (i === undefined) {
      if (typeof name !== "string" || name === "") throw new Error(`battle ${row}: model name must be a non-empty string`);
      i = names.length;
      index.set(name, i);
      names.push(name);
    }
    return i;
  };
  // First pass: encode every battle as (first-seen a, first-seen b, outcome) in typed arrays,
  // so the counting pass below never touches strings again.
  const n = battles.length;
  const codes = new Int32Array(n * 2);
  const outs = new Uint8Array(n);
  let selfBattles = 0;
  for (let r = 0; r < n; r++) {
    const b = battles[r];
    const a = intern(b.modelA, r);
    const c = intern(b.modelB, r);
    codes[2 * r] = a;
    codes[2 * r + 1] = c;
    outs[r] = outcomeCode(b.winner, r);
    if (a === c) selfBattles++;
  }

  // Sorted-name order, restricted to models with at least one rated battle.
  const rated = new Uint8Array(names.length);
  for (let r = 0; r < n; r++) {
    const a = codes[2 * r],
      c = codes[2 * r + 1];
    if (a !== c) rated[a] = rated[c] = 1;
  }
  const models = names.filter((_, i) => rated[i]).sort(compareNames);
  const rank = new Int32Array(names.length).fill(-1);
  models.forEach((m, k) => (rank[index.get(m)!] = k));

  const m = models.length;
  const cellOf = (i: number, j: number, o: number): number => (i * m + j) * 3 + o;
  const dense = m <= DENSE_MODEL_LIMIT ? new Float64Array(m * m * 3) : undefined;
  const sparse = dense ? undefined : new Map<number, number>();
  for (let r = 0; r < n; r++) {
    let i = rank[codes[2 * r]],
      j = rank[codes[2 * r + 1]];
    if (i === j) continue;
    let o = outs[r];
    if (i > j) {
      const t = i;
      i = j;
      j = t;
      if (o < 2) o = 1 - o;
    }
    const key = cellOf(i, j, o);
    if (dense) dense[key]++;
    else sparse!.set(key, (sparse!.get(key) ?? 0) + 1);
  }

  const pairs: number[] = [];
  if (dense) {
    for (let i = 0; i < m; i++)
      for (let j = i + 1; j < m; j++) {
        const k = cellOf(i, j, 0);
        if (dense[k] + dense[k + 1] + dense[k + 2] > 0) pairs.push(i, j, dense[k], dense[k + 1], dense[k + 2]);
      }
  } else {
    const keys = [...new Set([...sparse!.keys()].map((k) => k - (k % 3)))].sort((x, y) => x - y);
    for (const k of keys) {
      const ij = k / 3;
      pairs.push(Math.floor(ij / m), ij % m, sparse!.get(k) ?? 0, sparse!.get(k + 1) ?? 0, sparse!.get(k + 2) ?? 0);
    }
  }
  const p = pairs.length / 5;
  const cells: BattleCells = {
    models,
    pairI: new Int32Array(p),
    pairJ: new Int32Array(p),
    counts: new Float64Array(3 * p),
    total: n - selfBattles,
    selfBattles,
  };
  for (let q = 0; q < p; q++) {
    cells.pairI[q] = pairs[5 * q];
    cells.pairJ[q] = pairs[5 * q + 1];
    cells.counts.set(pairs.slice(5 * q + 2, 5 * q + 5), 3 * q);
  }
  return cells;
}

function outcomeCode(winner: string, row: number): number {
  switch (winner) {
    case "model_a":
      return 0;
    case "model_b":
      return 1;
    case "tie":
    case "tie (bothbad)":
      return 2;
    default:
      throw new Error(`battle ${row}: winner must be one of model_a, model_b, tie, "tie (bothbad)"; got ${JSON.stringify(winner)}`);
  }
}

// Code-unit order, not localeCompare: identical on every machine and locale.
function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
