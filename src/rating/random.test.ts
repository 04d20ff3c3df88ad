import { describe, expect, it } from "vitest";
import { binomial, createRng, lnFactorial, multinomialSampler } from "./random.ts";

describe("createRng", () => {
  it("is reproducible for a seed and differs between seeds", () => {
    const a = createRng(7),
      b = createRng(7),
      c = createRng(8);
    const xs = Array.from({ length: 5 }, () => a.uint32());
    expect(Array.from({ length: 5 }, () => b.uint32())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.uint32())).not.toEqual(xs);
  });

  it("gives uniform doubles in [0, 1)", () => {
    const rng = createRng(1);
    const bins = new Array(10).fill(0);
    const n = 100_000;
    let outside = 0;
    for (let i = 0; i < n; i++) {
      const u = rng.next();
      if (!(u >= 0 && u < 1)) outside++;
      else bins[Math.floor(u * 10)]++;
    }
    expect(outside).toBe(0);
    // Chi-square with 9 degrees of freedom; 27.9 is the 0.999 quantile.
    const chi2 = bins.reduce((s, o) => s + (o - n / 10) ** 2 / (n / 10), 0);
    expect(chi2).toBeLessThan(27.9);
  });
});

describe("lnFactorial", () => {
  it("matches summed logs on both sides of the table/Stirling switch", () => {
    let exact = 0;
    for (let k = 1; k <= 3000; k++) {
      exact += Math.log(k);
      if (k === 5 || k === 1023 || k === 1024 || k === 3000) expect(lnFactorial(k)).toBeCloseTo(exact, 8);
    }
    expect(lnFactorial(0)).toBe(0);
  });
});

describe("binomial", () => {
  it("matches the exact pmf (chi-square) in the inversion regime", () => {
    const rng = createRng(3);
    const n = 20,
      p = 0.3,
      draws = 50_000;
    const counts = new Array(n + 1).fill(0);
    for (let i = 0; i < draws; i++) counts[binomial(rng, n, p)]++;
    let chi2 = 0,
      dof = -1;
    for (let k = 0; k <= n; k++) {
      const expected = draws * Math.exp(lnFactorial(n) - lnFactorial(k) - lnFactorial(n - k) + k * Math.log(p) + (n - k) * Math.log(1 - p));
      if (expected < 5) continue;
      chi2 += (counts[k] - expected) ** 2 / expected;
      dof++;
    }
    // 0.999 quantile of chi-square with ~11 dof is 31.3.
    expect(dof).toBeGreaterThan(8);
    expect(chi2).toBeLessThan(31.3);
  });

  it.each([
    [1000, 0.05],
    [1_800_000, 40 / 1_800_000],
    [5000, 0.5],
    [200, 0.9],
  ])("has the binomial mean and variance for n=%i p=%f (BTRS and symmetry)", (n, p) => {
    const rng = createRng(11);
    const draws = 40_000;
    let sum = 0,
      sq = 0,
      invalid = 0;
    for (let i = 0; i < draws; i++) {
      const x = binomial(rng, n, p);
      if (!(Number.isInteger(x) && x >= 0 && x <= n)) invalid++;
      sum += x;
      sq += x * x;
    }
    expect(invalid).toBe(0);
    const mean = sum / draws,
      variance = sq / draws - mean * mean;
    const v = n * p * (1 - p);
    expect(Math.abs(mean - n * p)).toBeLessThan(5 * Math.sqrt(v / draws));
    // The variance of a sample variance is ≈ 2v²/draws for near-normal data.
    expect(Math.abs(variance - v)).toBeLessThan(6 * v * Math.sqrt(2 / draws));
  });

  it("handles the edges exactly", () => {
    const rng = createRng(0);
    expect(binomial(rng, 0, 0.5)).toBe(0);
    expect(binomial(rng, 10, 0)).toBe(0);
    expect(binomial(rng, 10, 1)).toBe(10);
  });
});

describe("multinomialSampler", () => {
  it("always draws exactly n and matches the cell means", () => {
    const weights = [5, 0, 1, 3, 1];
    const draw = multinomialSampler(weights);
    const rng = createRng(5);
    const out = new Float64Array(weights.length);
    const n = 1000,
      rounds = 2000;
    const sums = new Float64Array(weights.length);
    const totals = new Set<number>();
    for (let r = 0; r < rounds; r++) {
      draw(rng, n, out);
      totals.add(out.reduce((s, x) => s + x, 0));
      out.forEach((x, i) => (sums[i] += x));
    }
    expect([...totals]).toEqual([n]);
    expect(sums[1]).toBe(0);
    for (let i = 0; i < weights.length; i++) {
      const p = weights[i] / 10;
      const sd = Math.sqrt((n * p * (1 - p)) / rounds);
      expect(Math.abs(sums[i] / rounds - n * p)).toBeLessThanOrEqual(5 * sd);
    }
  });

  it("rejects invalid weights with a clear message", () => {
    expect(() => multinomialSampler([1, -1])).toThrow(/weight 1 is -1/);
    expect(() => multinomialSampler([0, 0])).toThrow(/all weights are zero/);
  });
});
