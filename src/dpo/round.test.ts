// A real DPO round on a tiny GPT (wasm backend): learning, metrics at step 0, determinism,
// tensor hygiene, cancellation and the reference log-prob cache.
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { byteTokenizer, type CausalLM, GPT, type GPTConfig, initBackend } from "../lm/index.ts";
import { scorePairs } from "./pairs.ts";
import { type RoundInput, runRound } from "./round.ts";
import { markerPairs } from "./testdata.ts";

const tok = byteTokenizer();
const CONFIG: GPTConfig = { vocabSize: tok.vocabSize, nPositions: 48, nEmbd: 32, nLayer: 2, nHead: 2, layerNormEpsilon: 1e-5 };
const train = markerPairs(tok, { n: 96, seed: 1 });
const heldout = markerPairs(tok, { n: 48, seed: 2 });
const dpo = {
  beta: 0.1,
  lr: 3e-3,
  batchSize: 8,
  epochs: 2,
  seed: 7,
  warmupSteps: 2,
  patience: 0,
  gates: { minHeldoutPairs: 1, klBudget: null, rootKlBudget: null },
};

function weights(model: CausalLM): Float32Array[] {
  return model.paramNames().map((n) => model.getParam(n).dataSync() as Float32Array);
}

let policy: GPT;
beforeAll(async () => {
  await initBackend("wasm");
  policy = GPT.create(CONFIG, 11);
  await scorePairs(policy, train.slice(0, 1), 1); // builds the policy's cached weight transposes
});

const round = (over: Partial<RoundInput> = {}) => runRound({ policy, pairs: train, heldout, config: dpo, ...over });

describe("runRound on a tiny GPT", () => {
  it("learns the marker: held-out accuracy from chance to >= 0.9, margin up, gates pass", async () => {
    const before = weights(policy).map((w) => w.slice());
    const seen: number[] = [];
    const r = await round({ onProgress: (s) => seen.push(s.step) });
    try {
      expect(r.config).toMatchObject({ beta: 0.1, lossType: "sigmoid", batchSize: 8, epochs: 2, maxGradNorm: 1 });
      expect(r.steps.length).toBe(24);
      expect(seen).toEqual(r.steps.map((s) => s.step));

      // Step 0: policy = reference, and the training forward pass reproduces the reference
      // scores bit for bit, so TRL's metrics start at exactly log 2 and 0.
      const s0 = r.steps[0];
      expect(s0.loss).toBe(Math.LN2);
      expect(s0["rewards/accuracies"]).toBe(0);
      expect(s0["rewards/margins"]).toBe(0);
      expect(s0["rewards/chosen"]).toBe(0);
      expect(s0.learning_rate).toBeCloseTo(1.5e-3, 12); // warmup: (0+1)/2 of the peak
      expect(r.steps[1].learning_rate).toBe(3e-3);

      // Chance before training: the untrained policy ranks the pairs by noise.
      expect(r.heldoutBefore!.accuracy).toBe(0);
      expect(r.heldoutBefore!.loss).toBeCloseTo(Math.LN2, 12);
      expect(r.heldoutBefore!.logpAccuracy).toBeGreaterThan(0.2);
      expect(r.heldoutBefore!.logpAccuracy).toBeLessThan(0.8);

      expect(r.heldout!.accuracy).toBeGreaterThanOrEqual(0.9);
      expect(r.heldout!.logpAccuracy).toBeGreaterThanOrEqual(0.9);
      expect(r.heldout!.logpMargin).toBeGreaterThan(r.heldoutBefore!.logpMargin + 1);
      expect(r.heldout!.loss).toBeLessThan(Math.LN2);
      expect(r.summary.last["rewards/accuracies"]).toBeGreaterThan(0.8);
      expect(r.summary.last.loss).toBeLessThan(s0.loss);
      expect(r.gates.map((g) => [g.name, g.passed])).toEqual([
        ["finite", true],
        ["heldout_size", true],
        ["heldout_improvement", true],
      ]);
      expect(r.passed).toBe(true);

      // The policy passed in is untouched; the trained model differs from it.
      const after = weights(policy);
      before.forEach((w, i) => expect(after[i]).toEqual(w));
      expect(weights(r.model)[0]).not.toEqual(before[0]);
    } finally {
      r.model.dispose();
    }
  });

  it("is deterministic for a fixed seed and leaks no tensors", async () => {
    const small = (seed: number) => round({ pairs: train.slice(0, 24), heldout: heldout.slice(0, 8), config: { ...dpo, epochs: 1, seed } });
    (await small(7)).model.dispose(); // warm caches
    const live = tf.memory().numTensors;
    const a = await small(7);
    const b = await small(7);
    const c = await small(8);
    try {
      expect(b.steps.map((s) => s.loss)).toEqual(a.steps.map((s) => s.loss));
      expect(weights(b.model)).toEqual(weights(a.model));
      expect(c.steps.map((s) => s.loss)).not.toEqual(a.steps.map((s) => s.loss));
    } finally {
      a.model.dispose();
      b.model.dispose();
      c.model.dispose();
    }
    expect(tf.memory().numTensors).toBe(live);
  });

  it("uses precomputed reference log-probs exactly like computed ones", async () => {
    const ref = await scorePairs(policy, train, 16);
    const other = GPT.create(CONFIG, 99); // would give different results if it were used
    try {
      const a = await round({ config: { ...dpo, epochs: 1 } });
      const b = await round({
        config: { ...dpo, epochs: 1 },
        reference: other,
        referenceLogps: ref,
        heldoutReferenceLogps: a.referenceLogps.heldout!,
      });
      expect(b.steps.map((s) => s.loss)).toEqual(a.steps.map((s) => s.loss));
      expect(b.referenceLogps.train).toBe(ref);
      a.model.dispose();
      b.model.dispose();
    } finally {
      other.dispose();
    }
    await expect(round({ referenceLogps: { chosen: [0], rejected: [0] } })).rejects.toThrow(/96 log-probs/);
  });

  it("scores a completion shared by several pairs once, with the same value", async () => {
    const [p, q] = train;
    const pairs = [p, p, { ...q, promptIds: p.promptIds, rejectedIds: p.chosenIds }];
    const shared = await scorePairs(policy, pairs, 4);
    const single = await scorePairs(policy, [p], 1);
    expect(shared.chosen.slice(0, 2)).toEqual([single.chosen[0], single.chosen[0]]);
    expect(shared.rejected[2]).toBe(single.chosen[0]);
    expect(shared.rejected[0]).toBe(single.rejected[0]);
  });

  it.each(["ipo", "hinge", "robust"] as const)("trains with the %s loss too", async (lossType) => {
    const config = { ...dpo, epochs: 1, lossType, labelSmoothing: lossType === "robust" ? 0.1 : 0, beta: lossType === "ipo" ? 0.5 : 0.1 };
    const r = await round({ config, pairs: train.slice(0, 64) });
    try {
      expect(r.config.lossType).toBe(lossType);
      expect(r.heldout!.logpMargin).toBeGreaterThan(r.heldoutBefore!.logpMargin + 2);
      expect(r.heldout!.accuracy).toBeGreaterThanOrEqual(0.9);
    } finally {
      r.model.dispose();
    }
  });

  it("the SFT term raises the chosen completions' log-probs", async () => {
    const base = { ...dpo, epochs: 1, lr: 1e-3 };
    const plain = await round({ config: base });
    const sft = await round({ config: { ...base, sftWeight: 1 } });
    try {
      expect(sft.summary.last["logps/chosen"]).toBeGreaterThan(plain.summary.last["logps/chosen"] + 5);
    } finally {
      plain.model.dispose();
      sft.model.dispose();
    }
  });

  it("stops at a non-finite loss and fails the finite gate instead of training on it", async () => {
    const broken = policy.clone();
    broken.setParams(new Map([["transformer.ln_f.bias", new Float32Array(CONFIG.nEmbd).fill(NaN)]]));
    try {
      const r = await runRound({ policy: broken, reference: policy, pairs: train, heldout, config: dpo });
      expect(r.diverged).toBe(true);
      expect(r.steps.length).toBe(1);
      expect(r.steps[0].loss).toBeNaN();
      expect(r.passed).toBe(false);
      expect(r.gates[0]).toMatchObject({ name: "finite", passed: false });
      expect(r.gates[0].detail).toMatch(/^non-finite values: 32 non-finite weights, step 0 loss=NaN/);
      r.model.dispose();
    } finally {
      broken.dispose();
    }
  });

  it("aborts between steps without leaking", async () => {
    const live = tf.memory().numTensors;
    const ctl = new AbortController();
    const steps: number[] = [];
    const p = round({ signal: ctl.signal, onProgress: (s) => (steps.push(s.step), s.step === 2 && ctl.abort()) });
    await expect(p).rejects.toMatchObject({ name: "AbortError" });
    expect(steps).toEqual([0, 1, 2]);
    expect(tf.memory().numTensors).toBe(live);
  });

  it("aborts while scoring the reference, before any step", async () => {
    const live = tf.memory().numTensors;
    const ctl = new AbortController();
    const steps: number[] = [];
    const p = round({ signal: ctl.signal, onProgress: (s) => steps.push(s.step) });
    ctl.abort(); // runRound is now waiting between reference batches
    await expect(p).rejects.toThrow(/aborted \(while scoring the reference\)/);
    expect(steps).toEqual([]);
    expect(tf.memory().numTensors).toBe(live);
  });

  it("keeps the best held-out checkpoint, not the last weights", async () => {
    const kept: number[] = [];
    const r = await round({
      config: { ...dpo, lr: 1e-2, epochs: 4, evalEverySteps: 4, patience: 0 },
      pairs: train.slice(0, 32),
      onCheckpoint: (c) => c.kept && kept.push(c.step),
    });
    try {
      expect(r.checkpoints.map((c) => c.step)).toEqual([4, 8, 12, 16]);
      const bestLoss = Math.min(...r.checkpoints.map((c) => c.heldoutLoss));
      expect(r.heldout!.loss).toBe(bestLoss);
      expect(r.selectedStep).toBe(r.checkpoints.find((c) => c.heldoutLoss === bestLoss)!.step);
      expect(kept.at(-1)).toBe(r.selectedStep);
      // The returned weights are that checkpoint's: scoring them again gives its held-out loss.
      const again = await scorePairs(r.model, heldout, 16);
      const ref = r.referenceLogps.heldout!;
      const loss =
        again.chosen.reduce((s, c, i) => s + Math.log1p(Math.exp(-0.1 * (c - ref.chosen[i] - (again.rejected[i] - ref.rejected[i])))), 0) /
        heldout.length;
      expect(loss).toBeCloseTo(bestLoss, 6);
    } finally {
      r.model.dispose();
    }
  });

  it("stops early when held-out loss stops improving, and when a better checkpoint leaves the KL budget", async () => {
    const over = await round({
      config: { ...dpo, lr: 1e-2, evalEverySteps: 3, gates: { minHeldoutPairs: 1, klBudget: null, rootKlBudget: 1e-4 } },
      klPrompts: { tokenizer: tok, promptIds: heldout.slice(0, 4).map((p) => p.promptIds) },
      served: { maxNewTokens: 8, temperature: 1 },
    });
    try {
      expect(over.steps.length).toBe(3);
      expect(over.stoppedEarly).toMatch(/over a KL budget/);
      expect(over.checkpoints[0]).toMatchObject({ step: 3, kept: false });
      expect(over.gates.find((g) => g.name === "kl_root")!.passed).toBe(false);
    } finally {
      over.model.dispose();
    }
    // Training on flipped labels makes every look after the first worse than the first.
    const flipped = train.slice(0, 16).map((p) => ({ ...p, chosenIds: p.rejectedIds, rejectedIds: p.chosenIds }));
    const flat = await round({ config: { ...dpo, epochs: 10, evalEverySteps: 1, patience: 2 }, pairs: flipped });
    try {
      expect(flat.steps.length).toBe(3);
      expect(flat.selectedStep).toBe(1);
      expect(flat.stoppedEarly).toMatch(/stopped improving for 2 evaluations/);
    } finally {
      flat.model.dispose();
    }
  });

  it("rejects bad input with messages that say what is wrong", async () => {
    await expect(round({ config: { lr: 1e-3 } as never })).rejects.toThrow(/beta is required/);
    await expect(round({ pairs: [] })).rejects.toThrow(/no training pairs/);
    const long = { ...train[0], chosenIds: new Array(60).fill(97) };
    await expect(round({ pairs: [long] })).rejects.toThrow(/exceeds the model context of 48/);
  });
});
