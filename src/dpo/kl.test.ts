// The sampled KL(π_θ‖π_ref) estimate and the KL gate, on a tiny GPT.
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { byteTokenizer, GPT, initBackend, type GPTConfig } from "../lm/index.ts";
import { sampledKL, type KLPrompts } from "./pairs.ts";
import { runRound } from "./round.ts";
import { markerPairs } from "./testdata.ts";

const tok = byteTokenizer();
const CONFIG: GPTConfig = { vocabSize: tok.vocabSize, nPositions: 48, nEmbd: 32, nLayer: 2, nHead: 2, layerNormEpsilon: 1e-5 };
const train = markerPairs(tok, { n: 64, seed: 3 });
const heldout = markerPairs(tok, { n: 32, seed: 4 });
const klPrompts: KLPrompts = { tokenizer: tok, promptIds: heldout.slice(0, 4).map((p) => p.promptIds) };
const opts = { samplesPerPrompt: 4, maxNewTokens: 12, seed: 5, scoreBatchSize: 16 };

let policy: GPT;
beforeAll(async () => {
  await initBackend("wasm");
  policy = GPT.create(CONFIG, 21);
});

describe("sampled KL(π_θ‖π_ref)", () => {
  it("is exactly 0 for a policy against itself or an identical copy", async () => {
    const copy = policy.clone();
    try {
      const est = await sampledKL(policy, copy, klPrompts, opts);
      expect(est.n).toBe(16);
      expect(est.kl).toBe(0);
      expect(est.stderr).toBe(0);
    } finally {
      copy.dispose();
    }
  });

  it("grows when the policy moves, is reproducible, and the KL gate enforces its budget", async () => {
    const config = { beta: 0.1, lr: 1e-2, batchSize: 8, epochs: 2, seed: 1, klSamplesPerPrompt: 8, klMaxNewTokens: 12 };
    const small = await runRound({ policy, pairs: train, heldout, klPrompts, config: { ...config, lr: 3e-4, epochs: 1 } });
    const big = await runRound({ policy, pairs: train, heldout, klPrompts, config: { ...config, gates: { klBudget: 1 } } });
    try {
      expect(big.kl!.n).toBe(32);
      const again = await sampledKL(big.model, policy, klPrompts, { samplesPerPrompt: 8, maxNewTokens: 12, seed: 1, scoreBatchSize: 16 });
      expect(again).toEqual(big.kl);
      // A Monte-Carlo estimate can dip below 0, but a policy that moved this far clearly cannot.
      expect(big.kl!.kl).toBeGreaterThan(3 * big.kl!.stderr);
      expect(big.kl!.kl).toBeGreaterThan(small.kl!.kl);
      const gate = big.gates.find((g) => g.name === "kl")!;
      expect(gate).toMatchObject({ passed: false, value: big.kl!.kl, threshold: 1 });
      expect(big.passed).toBe(false);
      expect(small.gates.find((g) => g.name === "kl")).toMatchObject({ passed: true, threshold: 8 });
    } finally {
      small.model.dispose();
      big.model.dispose();
    }
  });

  it("leaks no tensors", async () => {
    const copy = policy.clone();
    await sampledKL(copy, policy, klPrompts, opts); // warm caches
    const live = tf.memory().numTensors;
    await sampledKL(copy, policy, klPrompts, opts);
    expect(tf.memory().numTensors).toBe(live);
    copy.dispose();
  });
});
