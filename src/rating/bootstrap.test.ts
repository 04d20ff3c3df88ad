import { describe, expect, it } from "vitest";
import { bootstrap, fitBradleyTerry, quantile, rankFromIntervals } from "./index.ts";
import { createRng } from "./random.ts";
import { shuffled, synthetic } from "./test-helpers.ts";

function sd(xs: number[]): number {
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  return Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length - 1));
}

describe("bootstrap", () => {
  const battles = synthetic({ a: 1100, b: 1050, c: 1000, d: 900 }, 3000, 21, 0.1);

  it("is deterministic for a seed, independent of input order, and changes with the seed", () => {
    const one = bootstrap(battles, { rounds: 30, seed: 5 });
    const again = bootstrap(shuffled(battles, 3), { rounds: 30, seed: 5 });
    expect(Array.from(again.samples)).toEqual(Array.from(one.samples));
    expect(again.ci).toEqual(one.ci);
    const other = bootstrap(battles, { rounds: 30, seed: 6 });
    expect(Array.from(other.samples)).not.toEqual(Array.from(one.samples));
  });

  it("brackets the full-data rating with 2.5/97.5% quantiles of the round ratings", () => {
    const res = bootstrap(battles, { rounds: 100, seed: 1 });
    expect(res.unconvergedRounds).toBe(0);
    const m = res.models.length;
    for (const [i, model] of res.models.entries()) {
      const column = Array.from({ length: 100 }, (_, r) => res.samples[r * m + i]).sort((x, y) => x - y);
      expect(res.ci[model][0]).toBeCloseTo(quantile(column, 0.025), 9);
      expect(res.ci[model][1]).toBeCloseTo(quantile(column, 0.975), 9);
      expect(res.ci[model][0]).toBeLessThan(res.ratings[model]);
      expect(res.ci[model][1]).toBeGreaterThan(res.ratings[model]);
      // Every round is centred on 1000 like the full fit.
    }
    for (let r = 0; r < 100; r++) {
      let sum = 0;
      for (let i = 0; i < m; i++) sum += res.samples[r * m + i];
      expect(sum / m).toBeCloseTo(1000, 6);
    }
  });

  it("spreads like resampling the battles one by one (the multinomial-over-cells shortcut is exact)", () => {
    const data = synthetic({ a: 1100, b: 1000, c: 950, d: 900, e: 800 }, 4000, 55, 0.2);
    const fast = bootstrap(data, { rounds: 200, seed: 8 });
    const rng = createRng(9);
    const naive: Record<string, number[]> = Object.fromEntries(fast.models.map((m) => [m, []]));
    for (let r = 0; r < 80; r++) {
      const sample = Array.from({ length: data.length }, () => data[Math.floor(rng.next() * data.length)]);
      const fit = fitBradleyTerry(sample).ratings;
      for (const m of fast.models) naive[m].push(fit[m]);
    }
    const m = fast.models.length;
    fast.models.forEach((model, i) => {
      const sdFast = sd(Array.from({ length: 200 }, (_, r) => fast.samples[r * m + i]));
      // Relative standard error of a standard deviation from 80 draws is ≈ 8%.
      expect(sdFast / sd(naive[model])).toBeGreaterThan(0.75);
      expect(sdFast / sd(naive[model])).toBeLessThan(1.33);
    });
  });

  it("anchors every round, so the anchor's interval collapses to its rating", () => {
    const res = bootstrap(battles, { rounds: 20, seed: 2, anchor: { model: "c", rating: 1114 } });
    expect(res.ratings.c).toBeCloseTo(1114, 9);
    expect(res.ci.c[0]).toBeCloseTo(1114, 9);
    expect(res.ci.c[1]).toBeCloseTo(1114, 9);
  });

  it("has CIs that contain the true ratings for at least 90% of models (50k synthetic battles)", () => {
    const rng = createRng(77);
    const truth: Record<string, number> = {};
    for (let i = 0; i < 30; i++) truth[`m${i}`] = 1000 + 200 * (rng.next() - 0.5);
    // The fit is centred on 1000, so compare with the centred truth.
    const offset = 1000 - Object.values(truth).reduce((s, x) => s + x, 0) / 30;
    // No ties here: ties drawn independently of the ratings would pull every fitted rating
    // toward the mean (a tie is half a win whatever the gap), so the truth would be biased.
    const res = bootstrap(synthetic(truth, 50_000, 78), { rounds: 100, seed: 79 });
    const covered = Object.keys(truth).filter((m) => res.ci[m][0] <= truth[m] + offset && truth[m] + offset <= res.ci[m][1]);
    console.log(JSON.stringify({ coverage: covered.length / 30 }));
    expect(covered.length / 30).toBeGreaterThanOrEqual(0.9);
    // And the intervals are informative: narrower than the spread of the truth.
    const width = Object.values(res.ci).reduce((s, [lo, hi]) => s + hi - lo, 0) / 30;
    expect(width).toBeLessThan(60);
  });

  it("rejects a non-positive number of rounds", () => {
    expect(() => bootstrap(battles, { rounds: 0 })).toThrow(/rounds must be a positive integer/);
  });
});

describe("quantile and rank", () => {
  it("interpolates linearly like numpy", () => {
    expect(quantile([1, 2, 3, 4], 0.025)).toBeCloseTo(1.075, 12);
    expect(quantile([1, 2, 3, 4], 0.975)).toBeCloseTo(3.925, 12);
    expect(quantile([5], 0.5)).toBe(5);
  });

  it("ranks 1 + models whose lower bound is above this model's upper bound", () => {
    // Intervals: A [10, 20], B [15, 25], C [0, 9], D [0, 14].
    const rank = rankFromIntervals([10, 15, 0, 0], [20, 25, 9, 14]);
    expect(Array.from(rank)).toEqual([1, 1, 3, 2]);
  });
});
