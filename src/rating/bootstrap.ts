// Bootstrap confidence intervals for Bradley–Terry ratings, FastChat's `compute_bootstrap_bt`:
// each round draws as many battles as there are, with replacement, and refits. Resampling
// battles uniformly is a multinomial draw over the deduplicated cells, so a round costs one
// pass over the cells plus a Newton refit warm-started from the full-data fit.
import { type BradleyTerryOptions, fitTheta, thetaToRatings } from "./bradley-terry.ts";
import { type BattleCells, dedupBattles, isBattleCells } from "./cells.ts";
import { createRng, multinomialSampler } from "./random.ts";
import type { BattleRecord } from "./types.ts";

export interface BootstrapOptions extends BradleyTerryOptions {
  /** Resampling rounds (FastChat: 100). */
  rounds?: number;
  /** Seed of the resampling generator; the same seed and data give the same intervals. */
  seed?: number;
}

export interface BootstrapResult {
  models: string[];
  rounds: number;
  /** Ratings of every round, row-major: `samples[round * models.length + model]`. */
  samples: Float64Array;
  /** Fit on all data (the displayed rating). */
  ratings: Record<string, number>;
  /** 2.5% and 97.5% quantiles of each model's bootstrap ratings. */
  ci: Record<string, [number, number]>;
  /** 1 + number of models whose lower bound exceeds this model's upper bound. */
  rank: Record<string, number>;
  /** Whether the full-data fit reached the gradient tolerance. */
  fitConverged: boolean;
  /** Rounds whose Newton fit stopped before the gradient tolerance (0 on well-posed data). */
  unconvergedRounds: number;
}

export function bootstrap(input: readonly BattleRecord[] | BattleCells, opts: BootstrapOptions = {}): BootstrapResult {
  const rounds = opts.rounds ?? 100;
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`bootstrap: rounds must be a positive integer, got ${rounds}`);
  const cells = isBattleCells(input) ? input : dedupBattles(input);
  const m = cells.models.length;
  const full = fitTheta(cells, cells.counts, undefined, opts);
  const ratings = thetaToRatings(cells.models, full.theta, opts.anchor);

  const samples = new Float64Array(rounds * m);
  let unconvergedRounds = 0;
  if (cells.total > 0) {
    const rng = createRng(opts.seed ?? 0);
    const draw = multinomialSampler(cells.counts);
    const resampled = new Float64Array(cells.counts.length);
    for (let r = 0; r < rounds; r++) {
      draw(rng, cells.total, resampled);
      const fit = fitTheta(cells, resampled, full.theta, opts, false);
      if (!fit.converged) unconvergedRounds++;
      samples.set(thetaToRatings(cells.models, fit.theta, opts.anchor), r * m);
    }
  }

  const lo = new Float64Array(m),
    hi = new Float64Array(m);
  const column = new Float64Array(rounds);
  for (let i = 0; i < m; i++) {
    for (let r = 0; r < rounds; r++) column[r] = samples[r * m + i];
    column.sort();
    lo[i] = quantile(column, 0.025);
    hi[i] = quantile(column, 0.975);
  }
  const ranks = rankFromIntervals(lo, hi);
  const rec = <T>(f: (i: number) => T): Record<string, T> => Object.fromEntries(cells.models.map((name, i) => [name, f(i)]));
  return {
    models: cells.models,
    rounds,
    samples,
    ratings: rec((i) => ratings[i]),
    ci: rec((i): [number, number] => [lo[i], hi[i]]),
    rank: rec((i) => ranks[i]),
    fitConverged: full.converged,
    unconvergedRounds,
  };
}

/** Quantile of sorted data with linear interpolation (numpy's and pandas' default). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/** FastChat's rank: 1 + the number of models that are better with non-overlapping intervals. */
export function rankFromIntervals(lower: ArrayLike<number>, upper: ArrayLike<number>): Int32Array {
  const m = lower.length;
  const rank = new Int32Array(m);
  for (let i = 0; i < m; i++) {
    rank[i] = 1;
    for (let j = 0; j < m; j++) if (j !== i && lower[j] > upper[i]) rank[i]++;
  }
  return rank;
}
