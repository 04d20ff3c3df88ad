import { describe, expect, it } from "vitest";
import { allGatesPassed, DEFAULT_GATES, evaluateGates, gateFailureMessage, type GateEvidence } from "./gates.ts";
import { batchRewardMetrics, estimateKL, evaluatePreferences, summarizeSteps, type StepMetrics } from "./metrics.ts";
import { lineageOf, resolveReference } from "./reference.ts";

function step(i: number, over: Partial<StepMetrics> = {}): StepMetrics {
  return {
    step: i, epoch: 0, pairs: 4, tokens: 100, seconds: 0.5,
    loss: Math.LN2, "rewards/chosen": 0, "rewards/rejected": 0, "rewards/accuracies": 0, "rewards/margins": 0,
    "logps/chosen": -10, "logps/rejected": -12, grad_norm: 1, learning_rate: 1e-4, ...over,
  };
}

describe("metrics", () => {
  it("rewards/accuracies is strict: ties count as wrong", () => {
    const m = batchRewardMetrics([0, 1, 0.5, -1], [0, 0.5, 1, -2], [-1, -2, -3, -4], [-5, -6, -7, -8]);
    expect(m["rewards/accuracies"]).toBe(0.5);
    expect(m["rewards/margins"]).toBeCloseTo((0 + 0.5 - 0.5 + 1) / 4, 12);
    expect(m["rewards/chosen"]).toBeCloseTo(0.125, 12);
    expect(m["logps/chosen"]).toBe(-2.5);
    expect(m["logps/rejected"]).toBe(-6.5);
  });

  it("held-out evaluation: chance at init, improves when the policy prefers chosen", () => {
    const ref = { refChosen: [-10, -20, -5], refRejected: [-11, -19, -6] };
    const init = evaluatePreferences({ ...ref, policyChosen: ref.refChosen, policyRejected: ref.refRejected }, 0.1);
    expect(init.accuracy).toBe(0);
    expect(init.loss).toBe(Math.LN2);
    const trained = evaluatePreferences({ ...ref, policyChosen: [-8, -18, -6], policyRejected: [-13, -19, -9] }, 0.1);
    expect(trained.accuracy).toBe(1);
    expect(trained.loss).toBeLessThan(Math.LN2);
    expect(trained.logpMargin).toBeCloseTo((5 + 1 + 3) / 3, 12);
    expect(trained.logpAccuracy).toBe(1);
    expect(init.logpAccuracy).toBeCloseTo(2 / 3, 12);
  });

  it("KL estimate is the mean log-ratio with its standard error", () => {
    const est = estimateKL([-1, -2, -3, -4], [-2, -2, -4, -4]);
    expect(est.kl).toBe(0.5);
    // sample std of [1, 0, 1, 0] is sqrt(1/3)
    expect(est.stderr).toBeCloseTo(Math.sqrt(1 / 3) / 2, 12);
    expect(() => estimateKL([1], [1, 2])).toThrow(/equally many/);
  });

  it("round summary weights steps by pairs and keeps first and last", () => {
    const s = summarizeSteps([step(0, { pairs: 2, loss: 1 }), step(1, { pairs: 6, loss: 0.5 })]);
    expect(s.mean.loss).toBeCloseTo((2 + 3) / 8, 12);
    expect(s.first.loss).toBe(1);
    expect(s.last.loss).toBe(0.5);
    expect(s.pairsPerSecond).toBe(8);
  });
});

describe("gates", () => {
  const good: GateEvidence = {
    steps: [step(0), step(1, { loss: 0.5 })],
    heldout: { n: 10, accuracy: 0.9, loss: 0.4, rewardMargin: 1, logpMargin: 2, logpAccuracy: 0.8 },
    kl: { kl: 1.5, stderr: 0.2, n: 16 },
    nonFiniteWeights: 0,
  };

  it("a healthy round passes every default gate", () => {
    const gates = evaluateGates(good, DEFAULT_GATES);
    expect(gates.map((g) => g.name)).toEqual(["finite", "heldout_accuracy", "heldout_loss", "kl"]);
    expect(allGatesPassed(gates)).toBe(true);
    expect(gateFailureMessage(gates)).toBeNull();
  });

  it("each failure names the gate, value and threshold", () => {
    const nan = evaluateGates({ ...good, steps: [step(0, { grad_norm: NaN })] }, DEFAULT_GATES);
    expect(nan[0]).toMatchObject({ name: "finite", passed: false, value: 1 });
    expect(nan[0].detail).toMatch(/grad_norm/);

    const weights = evaluateGates({ ...good, nonFiniteWeights: 3 }, DEFAULT_GATES);
    expect(weights[0].passed).toBe(false);

    const chance = evaluateGates({ ...good, heldout: { ...good.heldout!, accuracy: 0.5, loss: Math.LN2 } }, DEFAULT_GATES);
    expect(chance.find((g) => g.name === "heldout_accuracy")).toMatchObject({ passed: false, value: 0.5, threshold: 0.5 });
    expect(chance.find((g) => g.name === "heldout_loss")).toMatchObject({ passed: false, value: Math.LN2 });

    const drift = evaluateGates({ ...good, kl: { kl: 9, stderr: 1, n: 16 } }, DEFAULT_GATES);
    expect(drift.find((g) => g.name === "kl")).toMatchObject({ passed: false, value: 9, threshold: 8 });
    expect(gateFailureMessage(drift)).toMatch(/^kl failed: /);
  });

  it("missing evidence fails an enabled gate; null disables it", () => {
    const none = evaluateGates({ ...good, heldout: null, kl: null }, DEFAULT_GATES);
    expect(none.filter((g) => !g.passed).map((g) => g.name)).toEqual(["heldout_accuracy", "heldout_loss", "kl"]);
    const off = evaluateGates({ ...good, heldout: null, kl: null }, { minHeldoutAccuracy: null, maxHeldoutLoss: null, klBudget: null });
    expect(off.map((g) => g.name)).toEqual(["finite"]);
    expect(allGatesPassed(off)).toBe(true);
  });
});

describe("reference strategies", () => {
  const parents: Record<string, string | null> = { v0: null, v1: "v0", v2: "v1", v3: "v2" };
  it("fixed uses the root, iterative the base of the round", () => {
    const lineage = lineageOf("v3", (v) => parents[v]);
    expect(lineage).toEqual(["v0", "v1", "v2", "v3"]);
    expect(resolveReference("fixed", lineage)).toBe("v0");
    expect(resolveReference("iterative", lineage)).toBe("v3");
    expect(resolveReference("iterative", ["v0"])).toBe("v0");
  });
  it("reports cycles and empty lineages", () => {
    expect(() => lineageOf("a", (v) => (v === "a" ? "b" : "a"))).toThrow(/cycle/);
    expect(() => resolveReference("fixed", [])).toThrow(/empty/);
  });
});
