// KL from the root: the exact per-token estimator against the plain Monte Carlo one on a tiny
// model, where both can be computed on the same samples.
import { beforeAll, describe, expect, it } from "vitest";
import { exactSequenceKL } from "../../src/dpo/kl.ts";
import { byteTokenizer, type GPTConfig, initBackend, type ScoreItem, sample } from "../../src/lm/index.ts";
import { tinyModel } from "../../src/lm/testing.ts";
import { clusteredMean, exactTokenKL, monteCarloKL } from "../../src/sim/kl.ts";

const CFG: GPTConfig = { vocabSize: 260, nPositions: 24, nEmbd: 8, nLayer: 1, nHead: 2, layerNormEpsilon: 1e-5 };

beforeAll(async () => {
  await initBackend("cpu");
});

describe("exactSequenceKL (the one definition the gates and the sim share)", () => {
  it("sums KL(p‖q) over positions, skips tokens p gives no mass, never goes below 0", () => {
    const lp = Float32Array.from([Math.log(0.5), Math.log(0.5), Math.log(0.9), Math.log(0.1)]);
    const lq = Float32Array.from([Math.log(0.9), Math.log(0.1), Math.log(0.9), Math.log(0.1)]);
    const want = 0.5 * Math.log(0.5 / 0.9) + 0.5 * Math.log(0.5 / 0.1);
    expect(exactSequenceKL(lp, lq, 2)).toBeCloseTo(want, 6);
    expect(exactSequenceKL(lq, lq, 2)).toBe(0);
    expect(exactSequenceKL(Float32Array.from([0, -Infinity]), Float32Array.from([Math.log(0.5), Math.log(0.5)]), 2)).toBeCloseTo(
      Math.log(2),
      6,
    );
    expect(() => exactSequenceKL(lp, lq.subarray(0, 2), 2)).toThrow(/shapes differ/);
  });
});

describe("clusteredMean", () => {
  it("takes the s.e. from per-cluster means: identical samples within a prompt add no information", () => {
    const flat = clusteredMean([1, 2, 3, 4], [0, 1, 2, 3]);
    const dup = clusteredMean([1, 1, 2, 2, 3, 3, 4, 4], [0, 0, 1, 1, 2, 2, 3, 3]);
    expect(dup.mean).toBeCloseTo(flat.mean, 12);
    expect(dup.stderr).toBeCloseTo(flat.stderr, 12);
    // treating the 8 as independent would claim a smaller s.e.
    const naive = Math.sqrt([1, 1, 2, 2, 3, 3, 4, 4].reduce((a, x) => a + (x - 2.5) ** 2, 0) / 7 / 8);
    expect(dup.stderr).toBeGreaterThan(naive);
    expect(dup.prompts).toBe(4);
  });
});

describe("KL(policy‖root) along policy samples", () => {
  it("the exact per-token estimator agrees with Monte Carlo within 3 s.e. and has lower variance", async () => {
    const root = tinyModel(1, CFG, 0.3);
    const policy = tinyModel(2, CFG, 0.3);
    const tok = byteTokenizer();
    const items: ScoreItem[] = [];
    const cluster: number[] = [];
    for (let p = 0; p < 12; p++) {
      const promptIds = [256, 65 + p, 66 + p];
      const outs = await sample(policy, tok, { promptIds, n: 16, temperature: 1, maxNewTokens: 8, seed: 100 + p });
      for (const o of outs) {
        items.push({ promptIds, completionIds: o.ids });
        cluster.push(p);
      }
    }
    const exact = exactTokenKL(policy, root, items, { chunk: 50 });
    const mc = monteCarloKL(policy, root, items);
    expect(exact.every((k) => k >= 0)).toBe(true);
    const e = clusteredMean(exact, cluster);
    const m = clusteredMean(mc, cluster);
    expect(e.mean).toBeGreaterThan(0.5); // two different random models: a real distance to find
    expect(Math.abs(e.mean - m.mean)).toBeLessThan(3 * Math.hypot(e.stderr, m.stderr));
    // On the same samples the difference has mean 0 (E[log p/q at a token | prefix] is that token's KL).
    const diff = clusteredMean(
      exact.map((k, i) => k - mc[i]),
      cluster,
    );
    expect(Math.abs(diff.mean)).toBeLessThan(3 * diff.stderr);
    const variance = (xs: number[]) => {
      const mu = xs.reduce((a, x) => a + x, 0) / xs.length;
      return xs.reduce((a, x) => a + (x - mu) ** 2, 0) / (xs.length - 1);
    };
    expect(variance(exact)).toBeLessThan(variance(mc));
    // and a model is at distance 0 from itself
    expect(exactTokenKL(root, root, items.slice(0, 5))).toEqual([0, 0, 0, 0, 0]);
    root.dispose();
    policy.dispose();
  });
});
