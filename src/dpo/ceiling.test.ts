import { describe, expect, it } from "vitest";
import { labelerCeiling, pairsForTest, tiltFrontier, tiltTestPower } from "./ceiling.ts";

const sigma = (x: number) => 1 / (1 + Math.exp(-x));

describe("labelerCeiling", () => {
  it("counts votes against the true reward and bounds any predictor by σ(|Δ|/τ)", () => {
    const c = labelerCeiling([2, -2, 0.5, 0], 1);
    expect(c.pairs).toBe(4);
    expect(c.voteAgreement).toBeCloseTo((1 + 0 + 1 + 0.5) / 4, 12);
    expect(c.idealAccuracy).toBeCloseTo((2 * sigma(2) + sigma(0.5) + 0.5) / 4, 12);
    const h = (p: number) => -p * Math.log(p) - (1 - p) * Math.log(1 - p);
    expect(c.lossFloor).toBeCloseTo((2 * h(sigma(2)) + h(sigma(0.5)) + Math.LN2) / 4, 12);
    // noisier labelers lower the ceiling
    expect(labelerCeiling([2, -2, 0.5, 0], 3).idealAccuracy).toBeLessThan(c.idealAccuracy);
  });
});

describe("tiltFrontier", () => {
  it("matches the closed form of a two-point reward", () => {
    // rewards 0 and 1 in equal shares: π_c puts p = e^c/(1+e^c) on reward 1
    const [zero, one] = tiltFrontier([0, 1, 0, 1], [0, 1]);
    expect(zero.kl).toBeCloseTo(0, 12);
    expect(zero.rewardGain).toBeCloseTo(0, 12);
    const p = sigma(1);
    expect(one.kl).toBeCloseTo(p * Math.log(2 * p) + (1 - p) * Math.log(2 * (1 - p)), 12);
    expect(one.rewardGain).toBeCloseTo(p - 0.5, 12);
    expect(one.gainInStd).toBeCloseTo((p - 0.5) / Math.sqrt(1 / 3), 12);
    expect(one.ess).toBeLessThan(4);
  });
});

describe("pairsForTest / tiltTestPower", () => {
  it("is the normal-approximation sample size of a one-sided test", () => {
    expect(pairsForTest(0.01, 0.1, 0.95, 0.5)).toBeCloseTo((1.6449 * 10) ** 2, 0);
    expect(pairsForTest(0, 0.1, 0.95, 0.8)).toBe(Infinity);
    expect(pairsForTest(0.02, 0.1, 0.95, 0.8)).toBeLessThan(pairsForTest(0.01, 0.1, 0.95, 0.8));
  });

  it("scores the tilted policy's implicit reward β·c·Δr on the voted margins", () => {
    const t = tiltTestPower([1, 1, -1, 2], 0.1, 5, 0.95, 0.8);
    const d = [0.5, 0.5, -0.5, 1].map((z) => Math.LN2 + Math.log(sigma(z)));
    expect(t.meanImprovement).toBeCloseTo(d.reduce((s, x) => s + x, 0) / 4, 12);
    expect(t.accuracy).toBe(0.75);
    expect(t.pairsNeeded).toBeGreaterThan(0);
    expect(Number.isFinite(t.pairsNeeded)).toBe(true);
  });
});
