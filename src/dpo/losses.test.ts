import { describe, expect, it } from "vitest";
import { makeRng as rng } from "../lm/index.ts";
import { LOSS_TYPES, type LossType, logSigmoid, type PreferenceLossInput, preferenceLoss, sigmoid } from "./losses.ts";

function randomPairs(n: number, seed: number) {
  const r = rng(seed);
  const mk = () => Array.from({ length: n }, () => -40 * r() - 1);
  return {
    policyChosen: mk(),
    policyRejected: mk(),
    refChosen: mk(),
    refRejected: mk(),
    chosenLengths: Array.from({ length: n }, () => 1 + Math.floor(30 * r())),
    rejectedLengths: Array.from({ length: n }, () => 1 + Math.floor(30 * r())),
  };
}

const KEYS = ["policyChosen", "policyRejected", "refChosen", "refRejected"] as const;
const GRAD_OF = {
  policyChosen: "gradPolicyChosen",
  policyRejected: "gradPolicyRejected",
  refChosen: "gradRefChosen",
  refRejected: "gradRefRejected",
} as const;

describe("preferenceLoss at initialisation (policy = reference)", () => {
  it("sigmoid loss is exactly log 2 and rewards are exactly 0 (so strict accuracy is 0)", () => {
    const p = randomPairs(16, 1);
    const out = preferenceLoss({ ...p, refChosen: p.policyChosen, refRejected: p.policyRejected, beta: 0.1, lossType: "sigmoid" });
    for (let i = 0; i < 16; i++) {
      expect(out.losses[i]).toBe(Math.LN2);
      expect(out.chosenRewards[i]).toBe(0);
      expect(out.rejectedRewards[i]).toBe(0);
      expect(out.chosenRewards[i] > out.rejectedRewards[i]).toBe(false);
      // docs/architecture.md: the gradient is −β·σ(r̂_l − r̂_w) on log π(y_w), i.e. −β/2 at init.
      expect(out.gradPolicyChosen[i]).toBeCloseTo(-0.05, 15);
      expect(out.gradPolicyRejected[i]).toBeCloseTo(0.05, 15);
    }
  });

  it("ipo loss at init is (1/(2β))² and hinge is 1", () => {
    const p = randomPairs(4, 2);
    const base = { ...p, refChosen: p.policyChosen, refRejected: p.policyRejected, beta: 0.25 };
    const ipo = preferenceLoss({ ...base, lossType: "ipo" });
    const hinge = preferenceLoss({ ...base, lossType: "hinge" });
    for (let i = 0; i < 4; i++) {
      expect(ipo.losses[i]).toBeCloseTo(4, 12);
      expect(hinge.losses[i]).toBe(1);
    }
  });
});

describe("preferenceLoss matches the closed forms", () => {
  it("sigmoid gradient equals docs/architecture.md's −β σ(r̂_l − r̂_w) weighting", () => {
    const p = randomPairs(32, 3);
    const beta = 0.3;
    const out = preferenceLoss({ ...p, beta, lossType: "sigmoid" });
    for (let i = 0; i < 32; i++) {
      const rw = beta * (p.policyChosen[i] - p.refChosen[i]);
      const rl = beta * (p.policyRejected[i] - p.refRejected[i]);
      const weight = sigmoid(rl - rw);
      expect(out.losses[i]).toBeCloseTo(-Math.log(sigmoid(rw - rl)), 10);
      expect(out.gradPolicyChosen[i]).toBeCloseTo(-beta * weight, 12);
      expect(out.gradPolicyRejected[i]).toBeCloseTo(beta * weight, 12);
      expect(out.gradRefChosen[i]).toBeCloseTo(beta * weight, 12);
      expect(out.gradRefRejected[i]).toBeCloseTo(-beta * weight, 12);
    }
  });

  it("robust and smoothed sigmoid losses follow TRL's formulas", () => {
    const p = randomPairs(8, 4);
    const beta = 0.5;
    const eps = 0.2;
    const sig = preferenceLoss({ ...p, beta, lossType: "sigmoid", labelSmoothing: eps });
    const rob = preferenceLoss({ ...p, beta, lossType: "robust", labelSmoothing: eps });
    for (let i = 0; i < 8; i++) {
      const z = beta * (p.policyChosen[i] - p.refChosen[i] - (p.policyRejected[i] - p.refRejected[i]));
      expect(sig.losses[i]).toBeCloseTo(-(1 - eps) * logSigmoid(z) - eps * logSigmoid(-z), 12);
      expect(rob.losses[i]).toBeCloseTo((-(1 - eps) * logSigmoid(z) + eps * logSigmoid(-z)) / (1 - 2 * eps), 12);
    }
  });

  it("ipo uses length-normalised log-ratios", () => {
    const p = randomPairs(8, 5);
    const beta = 0.1;
    const out = preferenceLoss({ ...p, beta, lossType: "ipo" });
    for (let i = 0; i < 8; i++) {
      const d = (p.policyChosen[i] - p.refChosen[i]) / p.chosenLengths[i] - (p.policyRejected[i] - p.refRejected[i]) / p.rejectedLengths[i];
      expect(out.losses[i]).toBeCloseTo((d - 1 / (2 * beta)) ** 2, 10);
    }
  });

  it("sft term adds the chosen completion's per-token NLL", () => {
    const p = randomPairs(8, 6);
    const plain = preferenceLoss({ ...p, beta: 0.2, lossType: "sigmoid" });
    const sft = preferenceLoss({ ...p, beta: 0.2, lossType: "sigmoid", sftWeight: 0.7 });
    for (let i = 0; i < 8; i++) {
      expect(sft.losses[i] - plain.losses[i]).toBeCloseTo((-0.7 * p.policyChosen[i]) / p.chosenLengths[i], 12);
      expect(sft.gradPolicyChosen[i] - plain.gradPolicyChosen[i]).toBeCloseTo(-0.7 / p.chosenLengths[i], 12);
    }
  });

  it("stays finite for extreme margins", () => {
    const out = preferenceLoss({
      policyChosen: [-1e4, 0],
      policyRejected: [0, -1e4],
      refChosen: [0, 0],
      refRejected: [0, 0],
      beta: 1,
      lossType: "sigmoid",
    });
    expect(out.losses[0]).toBeCloseTo(1e4, 6);
    expect(out.losses[1]).toBe(0);
    expect(Array.from(out.gradPolicyChosen).every(Number.isFinite)).toBe(true);
  });
});

describe("preferenceLoss gradients match central finite differences", () => {
  const cases: [LossType, Partial<PreferenceLossInput>][] = [
    ["sigmoid", {}],
    ["sigmoid", { labelSmoothing: 0.1 }],
    ["robust", { labelSmoothing: 0.15 }],
    ["hinge", {}],
    ["ipo", {}],
    ["sigmoid", { sftWeight: 0.5 }],
    ["ipo", { sftWeight: 1.5 }],
  ];
  for (const [lossType, extra] of cases) {
    for (const beta of [0.1, 1]) {
      it(`${lossType} ${JSON.stringify(extra)} beta=${beta}`, () => {
        // Log-probs near each other so that hinge margins straddle 1 and the kink is avoided.
        const p = randomPairs(24, 7 + beta * 10);
        const input = { ...p, beta, lossType, ...extra };
        const out = preferenceLoss(input);
        const h = 1e-5;
        for (const key of KEYS) {
          for (let i = 0; i < 24; i++) {
            const plus = { ...input, [key]: p[key].map((v, j) => (j === i ? v + h : v)) };
            const minus = { ...input, [key]: p[key].map((v, j) => (j === i ? v - h : v)) };
            const fd = (preferenceLoss(plus).losses[i] - preferenceLoss(minus).losses[i]) / (2 * h);
            if (lossType === "hinge") {
              const z = beta * (p.policyChosen[i] - p.refChosen[i] - p.policyRejected[i] + p.refRejected[i]);
              if (Math.abs(1 - z) < 10 * h * beta) continue; // the kink has no derivative
            }
            expect(Math.abs(out[GRAD_OF[key]][i] - fd)).toBeLessThan(1e-6 * Math.max(1, Math.abs(fd)));
          }
        }
      });
    }
  }
  it("the FD check is not vacuous: hinge has both active and inactive pairs", () => {
    const p = randomPairs(24, 7 + 10);
    const out = preferenceLoss({ ...p, beta: 1, lossType: "hinge" });
    const active = Array.from(out.gradPolicyChosen).filter((g) => g !== 0).length;
    expect(active).toBeGreaterThan(0);
    expect(active).toBeLessThan(24);
  });
});

describe("preferenceLoss validation", () => {
  const p = randomPairs(2, 9);
  it("requires beta", () => {
    expect(() => preferenceLoss({ ...p, lossType: "sigmoid" } as unknown as PreferenceLossInput)).toThrow(/beta/);
    expect(() => preferenceLoss({ ...p, beta: 0, lossType: "sigmoid" })).toThrow(/beta/);
  });
  it("rejects unknown loss types, bad smoothing and missing lengths", () => {
    expect(() => preferenceLoss({ ...p, beta: 1, lossType: "kto" as LossType })).toThrow(/unknown lossType/);
    expect(() => preferenceLoss({ ...p, beta: 1, lossType: "robust", labelSmoothing: 0.5 })).toThrow(/labelSmoothing/);
    expect(() => preferenceLoss({ ...p, chosenLengths: undefined, beta: 1, lossType: "ipo" })).toThrow(/chosenLengths/);
    expect(() => preferenceLoss({ ...p, refChosen: [0], beta: 1, lossType: "sigmoid" })).toThrow(/refChosen/);
  });
  it("covers every declared loss type", () => {
    for (const lossType of LOSS_TYPES) expect(preferenceLoss({ ...p, beta: 1, lossType }).losses.length).toBe(2);
  });
});

describe("preferenceLoss with per-pair weights (labeler quality)", () => {
  it("the weighted batch loss has the analytic gradient (central differences), for every loss type", () => {
    const n = 6;
    const p = randomPairs(n, 11);
    const weights = [1, 0.5, 0, 0.9, 0.25, 0.7];
    for (const lossType of LOSS_TYPES) {
      const input: PreferenceLossInput = {
        ...p,
        beta: 0.2,
        lossType,
        weights,
        sftWeight: 0.3,
        labelSmoothing: lossType === "sigmoid" || lossType === "robust" ? 0.1 : 0,
      };
      const batchLoss = (x: PreferenceLossInput) => preferenceLoss(x).losses.reduce((s, l) => s + l, 0) / n;
      const out = preferenceLoss(input);
      for (const key of KEYS) {
        for (let i = 0; i < n; i++) {
          const h = 1e-5;
          const plus = [...p[key]];
          const minus = [...p[key]];
          plus[i] += h;
          minus[i] -= h;
          const numeric = (batchLoss({ ...input, [key]: plus }) - batchLoss({ ...input, [key]: minus })) / (2 * h);
          // hinge has a kink at z = 1; the random pairs are far from it
          expect(out[GRAD_OF[key]][i] / n, `${lossType} ${key}[${i}]`).toBeCloseTo(numeric, 6);
        }
      }
    }
  });

  it("scales each pair's loss and gradient by its weight: weight 0 removes the pair, 1 changes nothing", () => {
    const p = randomPairs(4, 12);
    const plain = preferenceLoss({ ...p, beta: 0.1, lossType: "sigmoid" });
    const weighted = preferenceLoss({ ...p, beta: 0.1, lossType: "sigmoid", weights: [1, 0, 0.5, 0.25] });
    const w = [1, 0, 0.5, 0.25];
    for (let i = 0; i < 4; i++) {
      expect(weighted.losses[i]).toBeCloseTo(w[i]! * plain.losses[i]!, 14);
      expect(weighted.gradPolicyChosen[i]).toBeCloseTo(w[i]! * plain.gradPolicyChosen[i]!, 14);
      expect(weighted.gradPolicyRejected[i]).toBeCloseTo(w[i]! * plain.gradPolicyRejected[i]!, 14);
      // rewards are metrics, not weighted
      expect(weighted.chosenRewards[i]).toBe(plain.chosenRewards[i]);
    }
    expect(Math.abs(weighted.gradPolicyChosen[1]!)).toBe(0);
  });

  it("rejects weights of the wrong length or outside [0, ∞) with a message naming them", () => {
    const p = randomPairs(3, 13);
    expect(() => preferenceLoss({ ...p, beta: 0.1, lossType: "sigmoid", weights: [1, 1] })).toThrow(
      /weights has 2 entries but there are 3 pairs/,
    );
    expect(() => preferenceLoss({ ...p, beta: 0.1, lossType: "sigmoid", weights: [1, -0.5, 1] })).toThrow(/weights\[1\] = -0.5/);
    expect(() => preferenceLoss({ ...p, beta: 0.1, lossType: "sigmoid", weights: [1, Number.NaN, 1] })).toThrow(/weights\[1\]/);
  });
});
