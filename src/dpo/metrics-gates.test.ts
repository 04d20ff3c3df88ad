import { describe, expect, it } from "vitest";
import { allGatesPassed, DEFAULT_GATES, evaluateGates, type GateEvidence, gateFailureMessage } from "./gates.ts";
import { exactSequenceKL, type KLEstimate, summarizeKL } from "./kl.ts";
import { batchRewardMetrics, evaluatePreferences, type PreferenceEval, type StepMetrics, summarizeSteps } from "./metrics.ts";
import { lineageOf, resolveReference } from "./reference.ts";

function step(i: number, over: Partial<StepMetrics> = {}): StepMetrics {
  return {
    step: i,
    epoch: 0,
    pairs: 4,
    tokens: 100,
    seconds: 0.5,
    loss: Math.LN2,
    "rewards/chosen": 0,
    "rewards/rejected": 0,
    "rewards/accuracies": 0,
    "rewards/margins": 0,
    "logps/chosen": -10,
    "logps/rejected": -12,
    grad_norm: 1,
    learning_rate: 1e-4,
    ...over,
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

  it("round summary weights steps by pairs and keeps first and last", () => {
    const s = summarizeSteps([step(0, { pairs: 2, loss: 1 }), step(1, { pairs: 6, loss: 0.5 })]);
    expect(s.mean.loss).toBeCloseTo((2 + 3) / 8, 12);
    expect(s.first.loss).toBe(1);
    expect(s.last.loss).toBe(0.5);
    expect(s.pairsPerSecond).toBe(8);
  });
});

/** Held-out evaluation of n pairs whose reward margins are `margins` (reference log-probs 0). */
const evalOf = (margins: number[], beta = 0.1, clusters?: string[]): PreferenceEval =>
  evaluatePreferences(
    {
      policyChosen: margins.map((m) => m / beta),
      policyRejected: margins.map(() => 0),
      refChosen: margins.map(() => 0),
      refRejected: margins.map(() => 0),
    },
    beta,
    clusters,
  );
const untrained = (n: number) => evalOf(Array(n).fill(0));
const kl = (value: number, stderr = 0.2): KLEstimate => ({
  kl: value,
  stderr,
  ucb: value + 1.645 * stderr,
  n: 64,
  prompts: 32,
  meanTokens: 64,
});

describe("gates as tests", () => {
  const n = 240;
  const learned = evalOf(Array.from({ length: n }, (_, i) => (i % 4 === 0 ? -0.5 : 1.5)));
  const good: GateEvidence = {
    steps: [step(0), step(1, { loss: 0.5 })],
    heldout: learned,
    heldoutBefore: untrained(n),
    klRound: kl(3),
    klRoot: kl(6),
    rootName: "v0",
    nonFiniteWeights: 0,
  };

  it("a round that learned something real, inside both budgets, passes every default gate", () => {
    const gates = evaluateGates(good, DEFAULT_GATES);
    expect(gates.map((g) => g.name)).toEqual(["finite", "heldout_size", "heldout_improvement", "kl_round", "kl_root"]);
    expect(allGatesPassed(gates)).toBe(true);
    const t = gates.find((g) => g.name === "heldout_improvement")!;
    expect(t.value).toBeGreaterThan(0);
    expect(t.pValue).toBeLessThan(0.001);
    expect(gateFailureMessage(gates)).toBeNull();
  });

  it("fails {n 207, accuracy 0.52, loss 0.690}: above chance on its face, but no evidence of learning", () => {
    // 108 of 207 pairs ranked right with margin 0.3; the rest wrong by b, chosen so the mean loss is 0.690.
    const lossOf = (b: number) => evalOf([...Array(108).fill(0.3), ...Array(99).fill(-b)]).loss;
    let lo = 0,
      hi = 1;
    for (let i = 0; i < 60; i++) lossOf((lo + hi) / 2) < 0.69 ? (lo = (lo + hi) / 2) : (hi = (lo + hi) / 2);
    const after = evalOf([...Array(108).fill(0.3), ...Array(99).fill(-lo)]);
    expect(after.n).toBe(207);
    expect(after.accuracy).toBeCloseTo(0.52, 2);
    expect(after.loss).toBeCloseTo(0.69, 6);
    // What the old gates checked (accuracy > 0.5 and loss < log 2) holds, yet:
    expect(after.accuracy > 0.5 && after.loss < Math.LN2).toBe(true);
    const gates = evaluateGates({ ...good, heldout: after, heldoutBefore: untrained(207) }, DEFAULT_GATES);
    const t = gates.find((g) => g.name === "heldout_improvement")!;
    expect(t.passed).toBe(false);
    expect(t.value).toBeLessThan(0);
    expect(t.pValue).toBeGreaterThan(0.05);
    expect(gates.find((g) => g.name === "heldout_size")!.passed).toBe(true);
  });

  it("reports the improvement test but lets it pass only when the admin turned the requirement off", () => {
    const after = evalOf(Array.from({ length: 207 }, (_, i) => (i % 2 === 0 ? 0.05 : -0.04)));
    const off = evaluateGates({ ...good, heldout: after, heldoutBefore: untrained(207) }, { ...DEFAULT_GATES, requireImprovement: false });
    const on = evaluateGates({ ...good, heldout: after, heldoutBefore: untrained(207) }, DEFAULT_GATES);
    const tOff = off.find((g) => g.name === "heldout_improvement")!;
    const tOn = on.find((g) => g.name === "heldout_improvement")!;
    expect(tOn.passed).toBe(false);
    expect(tOff.passed).toBe(true);
    expect(tOff.value).toBe(tOn.value); // the statistic is still computed and shown
    expect(tOff.detail).toMatch(/not required/);
  });

  it("fails a 3-pair held-out set however good it looks", () => {
    const gates = evaluateGates({ ...good, heldout: evalOf([3, 3, 3]), heldoutBefore: untrained(3) }, DEFAULT_GATES);
    expect(gates.find((g) => g.name === "heldout_size")).toMatchObject({ passed: false, value: 3, threshold: 200 });
    expect(gateFailureMessage(gates)).toMatch(/Enough held-out votes failed: 3 held-out pairs/);
  });

  it("fails a round whose held-out loss ends above where it started (heldoutBefore)", () => {
    const before = evalOf(Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 0 : 0.8)));
    const after = evalOf(Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 0 : 0.4)));
    expect(after.loss).toBeGreaterThan(before.loss);
    expect(after.loss).toBeLessThan(Math.LN2); // the old absolute gate would have passed it
    const gates = evaluateGates({ ...good, heldout: after, heldoutBefore: before }, DEFAULT_GATES);
    expect(gates.find((g) => g.name === "heldout_improvement")!.passed).toBe(false);
  });

  it("clusters by prompt: ten copies of one prompt's evidence are one prompt's worth", () => {
    const margins = Array.from({ length: 40 }, (_, i) => (i < 20 ? 1 : -0.6));
    const independent = evaluateGates(
      { ...good, heldout: evalOf(margins), heldoutBefore: untrained(40) },
      { ...DEFAULT_GATES, minHeldoutPairs: 1 },
    );
    const clustered = evalOf(
      margins,
      0.1,
      margins.map((_, i) => `p${i < 20 ? i % 2 : 2 + (i % 2)}`),
    );
    const c = evaluateGates(
      { ...good, heldout: clustered, heldoutBefore: evalOf(Array(40).fill(0), 0.1, clustered.clusters as string[]) },
      { ...DEFAULT_GATES, minHeldoutPairs: 1 },
    );
    const lcb = (g: typeof c) => g.find((x) => x.name === "heldout_improvement")!.value;
    expect(lcb(c)).toBeLessThan(lcb(independent));
  });

  it("the root budget fails v0 → v1 → v2 at 5 nats a round against 12, although each round passes", () => {
    // Ten positions; each version tilts the next-token distribution further toward one token.
    const V = 8,
      L = 10;
    const dist = (th: number) => {
      const logits = Array.from({ length: V }, (_, i) => (i === 0 ? th : 0));
      const lse = Math.log(logits.reduce((a, x) => a + Math.exp(x), 0));
      return Float32Array.from({ length: L * V }, (_, k) => logits[k % V] - lse);
    };
    const solve = (from: number) => {
      let lo = from,
        hi = from + 50;
      for (let i = 0; i < 100; i++) exactSequenceKL(dist((lo + hi) / 2), dist(from), V) < 5 ? (lo = (lo + hi) / 2) : (hi = (lo + hi) / 2);
      return lo;
    };
    const t1 = solve(0),
      t2 = solve(t1);
    expect(exactSequenceKL(dist(t1), dist(0), V)).toBeCloseTo(5, 3);
    const round2 = exactSequenceKL(dist(t2), dist(t1), V);
    const fromRoot = exactSequenceKL(dist(t2), dist(0), V);
    expect(round2).toBeCloseTo(5, 3);
    expect(5 + round2).toBeLessThan(12); // summing per-round budgets would have let it through
    expect(fromRoot).toBeGreaterThan(12); // drift compounds: measured from the root it is ~19 nats
    const est = (v: number) => summarizeKL([v, v, v, v], [0, 1, 2, 3], [L, L, L, L], 0.95);
    const gates = evaluateGates(
      { ...good, klRound: est(round2), klRoot: est(fromRoot) },
      { ...DEFAULT_GATES, klBudget: 12, rootKlBudget: 12 },
    );
    expect(gates.find((g) => g.name === "kl_round")!.passed).toBe(true);
    const root = gates.find((g) => g.name === "kl_root")!;
    expect(root).toMatchObject({ passed: false, threshold: 12 });
    expect(root.detail).toMatch(/drift budget is spent: raise β/);
  });

  it("gates on the upper bound, not the estimate; missing evidence fails; null disables a KL gate", () => {
    const noisy = evaluateGates({ ...good, klRound: kl(11, 1) }, DEFAULT_GATES);
    expect(noisy.find((g) => g.name === "kl_round")).toMatchObject({ passed: false, estimate: 11 });
    const none = evaluateGates({ ...good, heldout: null, heldoutBefore: null, klRound: null, klRoot: null }, DEFAULT_GATES);
    expect(none.filter((g) => !g.passed).map((g) => g.name)).toEqual(["heldout_size", "heldout_improvement", "kl_round", "kl_root"]);
    const off = evaluateGates({ ...good, klRound: null, klRoot: null }, { ...DEFAULT_GATES, klBudget: null, rootKlBudget: null });
    expect(off.map((g) => g.name)).toEqual(["finite", "heldout_size", "heldout_improvement"]);
    expect(allGatesPassed(off)).toBe(true);
  });

  it("each failure names the gate and what was wrong", () => {
    const nan = evaluateGates({ ...good, steps: [step(0, { grad_norm: NaN })] }, DEFAULT_GATES);
    expect(nan[0]).toMatchObject({ name: "finite", passed: false, value: 1 });
    expect(nan[0].detail).toMatch(/grad_norm/);
    expect(evaluateGates({ ...good, nonFiniteWeights: 3 }, DEFAULT_GATES)[0].passed).toBe(false);
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

describe("statistics", () => {
  it("normal quantiles and tails, and the cluster-robust standard error", async () => {
    const { normalQuantile, normalCdf, clusteredMean } = await import("./stats.ts");
    expect(normalQuantile(0.95)).toBeCloseTo(1.6449, 3);
    expect(normalQuantile(0.5)).toBeCloseTo(0, 6);
    expect(normalCdf(1.96)).toBeCloseTo(0.975, 4);
    // one value per cluster: the usual s/√n
    const plain = clusteredMean([1, 2, 3, 4], [0, 1, 2, 3]);
    expect(plain.stderr).toBeCloseTo(Math.sqrt(5 / 3) / 2, 12);
    // two clusters of identical copies: no more evidence than two values
    const copies = clusteredMean([1, 1, 1, 3, 3, 3], ["a", "a", "a", "b", "b", "b"]);
    expect(copies.stderr).toBeCloseTo(1, 12);
    expect(clusteredMean([5, 5], ["a", "a"]).stderr).toBeNaN();
  });
});
