// The KL measurement on a tiny GPT: exact per-token KL along sampled sequences against the plain
// Monte Carlo log-ratio, the served-settings figure, and the KL gates of a round.
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { byteTokenizer, type CausalLM, GPT, type GPTConfig, initBackend, nextTokenLogprobs, type ScoreItem, sample } from "../lm/index.ts";
import { exactSequenceKL, type KLPrompts, measureKL, monteCarloSequenceKL, servedLogDist } from "./kl.ts";
import { runRound } from "./round.ts";
import { clusteredMean } from "./stats.ts";
import { markerPairs } from "./testdata.ts";

const tok = byteTokenizer();
const CONFIG: GPTConfig = { vocabSize: tok.vocabSize, nPositions: 48, nEmbd: 32, nLayer: 2, nHead: 2, layerNormEpsilon: 1e-5 };
const train = markerPairs(tok, { n: 64, seed: 3 });
const heldout = markerPairs(tok, { n: 32, seed: 4 });
const klPrompts: KLPrompts = { tokenizer: tok, promptIds: heldout.slice(0, 6).map((p) => p.promptIds) };
const served = { maxNewTokens: 12, temperature: 0.8, topP: 0.9 };
const opts = { served, samplesPerPrompt: 4, seed: 5, batchSize: 16, confidence: 0.95 };
const noGates = { minHeldoutPairs: 1, klBudget: null, rootKlBudget: null };

let policy: GPT;
let moved: CausalLM;
beforeAll(async () => {
  await initBackend("wasm");
  policy = GPT.create(CONFIG, 21);
  const r = await runRound({ policy, pairs: train, config: { beta: 0.1, lr: 1e-2, batchSize: 8, epochs: 2, seed: 1, gates: noGates } });
  moved = r.model;
});

describe("KL(π_θ‖π_ref) at the served length", () => {
  it("is exactly 0 for a policy against itself or an identical copy, at T = 1 and at the served settings", async () => {
    const copy = policy.clone();
    try {
      const r = await measureKL(policy, { self: policy, copy }, klPrompts, opts);
      for (const est of [r.t1.self, r.t1.copy, r.served!.copy]) {
        expect(est.n).toBe(24);
        expect(est.prompts).toBe(6);
        expect(est.kl).toBeCloseTo(0, 6);
      }
    } finally {
      copy.dispose();
    }
  });

  it("exact per-token KL and plain Monte Carlo agree within 3 s.e., and the exact one has lower variance", async () => {
    const items: ScoreItem[] = [];
    const clusters: number[] = [];
    for (const [i, promptIds] of klPrompts.promptIds.entries()) {
      const out = await sample(moved, tok, { promptIds, n: 24, temperature: 1, maxNewTokens: 12, seed: 100 + i });
      for (const o of out) if (o.ids.length) items.push({ promptIds, completionIds: o.ids }), clusters.push(i);
    }
    const p = nextTokenLogprobs(moved, items, { batchSize: 16 });
    const q = nextTokenLogprobs(policy, items, { batchSize: 16 });
    const V = CONFIG.vocabSize;
    const exact = items.map((_, j) => exactSequenceKL(p[j], q[j], V));
    const mc = items.map((it, j) => monteCarloSequenceKL(p[j], q[j], V, it.completionIds));
    const e = clusteredMean(exact, clusters);
    const m = clusteredMean(mc, clusters);
    const variance = (xs: number[]) => {
      const mu = xs.reduce((a, b) => a + b, 0) / xs.length;
      return xs.reduce((a, x) => a + (x - mu) ** 2, 0) / (xs.length - 1);
    };
    expect(e.mean).toBeGreaterThan(0.5); // the policy really moved
    expect(Math.abs(e.mean - m.mean)).toBeLessThan(3 * Math.hypot(e.stderr, m.stderr));
    expect(variance(exact)).toBeLessThan(variance(mc) / 2);
    expect(e.stderr).toBeLessThan(m.stderr);
  });

  it("grows when the policy moves, is reproducible, and reports the served-settings figure beside T = 1", async () => {
    const a = await measureKL(moved, { reference: policy }, klPrompts, opts);
    const b = await measureKL(moved, { reference: policy }, klPrompts, opts);
    expect(b).toEqual(a);
    expect(a.t1.reference.kl).toBeGreaterThan(3 * a.t1.reference.stderr);
    expect(a.t1.reference.ucb).toBeGreaterThan(a.t1.reference.kl);
    expect(a.served!.reference.kl).toBeGreaterThan(0);
    expect(a.served!.reference.kl).not.toBe(a.t1.reference.kl);
    const greedy = await measureKL(moved, { reference: policy }, klPrompts, { ...opts, served: { ...served, temperature: 0 } });
    expect(greedy.served).toBeNull();
  });

  it("the served distribution keeps the sampler's nucleus and renormalises", () => {
    const row = Float32Array.from([Math.log(0.5), Math.log(0.3), Math.log(0.15), Math.log(0.05)]);
    const d = servedLogDist(row, { temperature: 1, topP: 0.8 }, true);
    expect(Array.from(d, Math.exp)).toEqual([expect.closeTo(0.625, 6), expect.closeTo(0.375, 6), 0, 0]);
    const unfiltered = servedLogDist(row, { temperature: 1, topP: 0.8 }, false);
    expect(Math.exp(unfiltered[3])).toBeCloseTo(0.05, 6);
  });

  it("a round's KL gates compare the upper bound with the budget", async () => {
    const config = { beta: 0.1, lr: 1e-2, batchSize: 8, epochs: 2, seed: 1 };
    const r = await runRound({
      policy,
      pairs: train,
      heldout,
      klPrompts,
      served,
      config: { ...config, gates: { minHeldoutPairs: 1, klBudget: 0.5, rootKlBudget: 100 } },
    });
    try {
      const gate = r.gates.find((g) => g.name === "kl_round")!;
      expect(gate).toMatchObject({ passed: false, value: r.klRound!.ucb, threshold: 0.5 });
      expect(r.kl!.served).not.toBeNull();
      expect(r.passed).toBe(false);
    } finally {
      r.model.dispose();
    }
  });

  it("leaks no tensors", async () => {
    await measureKL(moved, { reference: policy }, klPrompts, opts); // warm caches
    const live = tf.memory().numTensors;
    await measureKL(moved, { reference: policy }, klPrompts, opts);
    expect(tf.memory().numTensors).toBe(live);
  });
});
