// The blocked LM head (lm-head.ts) against an unblocked float64 reference written here, and whole
// models (GPT-2 and Llama family) trained through it with the head split into uneven blocks: the
// log-probs and every gradient must match the single-block pass, and finite differences.
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type BackendName, initBackend, useBackend } from "./backend.ts";
import type { CausalLM } from "./causal.ts";
import { logprobGrads, nextTokenLogprobs, type ScoreItem, scoreCompletions } from "./forward.ts";
import { llamaConfigFromHF } from "./llama/config.ts";
import { tinyHFConfig } from "./llama/fixtures.ts";
import { LAYER_CHUNK_ELEMENTS, setLayerChunkElements } from "./llama/forward.ts";
import { LlamaModel } from "./llama/model.ts";
import { HEAD_BLOCK_ELEMENTS, headBackward, headLogprobs, headWeightName, setHeadBlockElements } from "./lm-head.ts";
import { makeRng } from "./model.ts";
import { disposeGrads } from "./optim.ts";
import { randomIds, tinyModel, values } from "./testing.ts";

let initial: BackendName;
beforeAll(async () => {
  initial = await initBackend();
});
afterAll(async () => {
  await useBackend(initial);
});
afterEach(() => {
  setHeadBlockElements(HEAD_BLOCK_ELEMENTS);
  setLayerChunkElements(LAYER_CHUNK_ELEMENTS);
});

/** A tiny Llama-family model with weights far from zero (so the softmax is not flat). */
function tinyLlama(seed: number, over: Record<string, unknown>): LlamaModel {
  const m = LlamaModel.create(llamaConfigFromHF(tinyHFConfig("llama", { num_hidden_layers: 2, ...over }), "tiny"), seed);
  const rand = makeRng(seed * 31 + 7);
  const vals = new Map<string, Float32Array>();
  for (const n of m.paramNames()) {
    const d = values(m.getParam(n));
    for (let i = 0; i < d.length; i++) d[i] += (rand() * 2 - 1) * 0.3;
    vals.set(n, d);
  }
  m.setParams(vals);
  return m;
}

const models: [string, () => CausalLM][] = [
  ["gpt2 (tied head)", () => tinyModel(4)],
  ["llama, tied head", () => tinyLlama(5, { tie_word_embeddings: true })],
  ["llama, untied head", () => tinyLlama(6, { tie_word_embeddings: false })],
];

/** The unblocked head in float64: full logits, log-softmax, and the gradients of Σ w·log p(target). */
function reference(h: Float32Array, W: Float32Array, M: number, V: number, C: number, targets: Int32Array, w: Float64Array) {
  const logp = new Float64Array(M);
  const dh = new Float64Array(M * C);
  const dW = new Float64Array(V * C);
  for (let m = 0; m < M; m++) {
    const logits = new Float64Array(V);
    for (let v = 0; v < V; v++) {
      let s = 0;
      for (let j = 0; j < C; j++) s += h[m * C + j] * W[v * C + j];
      logits[v] = s;
    }
    const mx = Math.max(...logits);
    const lse = mx + Math.log(logits.reduce((a, x) => a + Math.exp(x - mx), 0));
    logp[m] = logits[targets[m]] - lse;
    for (let v = 0; v < V; v++) {
      const d = w[m] * ((v === targets[m] ? 1 : 0) - Math.exp(logits[v] - lse));
      for (let j = 0; j < C; j++) {
        dh[m * C + j] += d * W[v * C + j];
        dW[v * C + j] += d * h[m * C + j];
      }
    }
  }
  return { logp, dh, dW };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

describe.each(models)("the blocked LM head, %s", (_label, make) => {
  beforeAll(async () => {
    await useBackend(initial);
  });

  it("matches the unblocked float64 head for row and vocabulary blocks that do not divide the sizes", () => {
    const model = make();
    const V = model.config.vocabSize;
    const W = values(model.getParam(headWeightName(model)));
    const C = W.length / V;
    const rand = makeRng(3);
    const M = 10;
    const hData = Float32Array.from({ length: M * C }, () => rand() * 2 - 1);
    const targets = Int32Array.from({ length: M }, () => Math.floor(rand() * V));
    const w = Float64Array.from({ length: M }, (_, m) => (m === 4 ? 0 : rand() * 2 - 1)); // one row without gradient
    const ref = reference(hData, W, M, V, C, targets, w);
    const h = tf.tensor2d(hData, [M, C]);
    const before = tf.memory().numTensors;
    for (const opts of [{}, { blockRows: 3, blockCols: 5 }, { blockRows: 7, blockCols: V - 1 }, { blockRows: 1, blockCols: 1 }]) {
      const { logp, lse } = headLogprobs(model, h, targets, opts);
      expect(maxAbsDiff(logp, ref.logp), JSON.stringify(opts)).toBeLessThan(1e-4);
      const { dh, dW } = headBackward(model, h, targets, lse, w, opts);
      expect(maxAbsDiff(values(dh), ref.dh), JSON.stringify(opts)).toBeLessThan(1e-5 * Math.max(1, maxAbs(ref.dh)));
      expect(maxAbsDiff(dW, ref.dW), JSON.stringify(opts)).toBeLessThan(1e-5 * Math.max(1, maxAbs(ref.dW)));
      dh.dispose();
      expect(tf.memory().numTensors).toBe(before); // nothing left behind by the blocks
    }
    // no rows at all: no log-probs, zero gradients
    const none = tf.zeros([0, C]) as tf.Tensor2D;
    const empty = headLogprobs(model, none, new Int32Array(0));
    expect(empty.logp.length).toBe(0);
    const g = headBackward(model, none, new Int32Array(0), empty.lse, new Float64Array(0));
    expect(maxAbs(g.dW)).toBe(0);
    g.dh.dispose();
    none.dispose();
    h.dispose();
    const two = tf.zeros([2, C]) as tf.Tensor2D;
    expect(() => headLogprobs(model, two, targets)).toThrow(/2 rows/);
    two.dispose();
    expect(() => setHeadBlockElements(0)).toThrow(/positive integer/);
    model.dispose();
  });

  it.each(["cpu", "wasm"] as const)(
    "trains a whole model identically with the head split into uneven blocks and (Llama) the layers' backward in chunks of one packed row, on %s (log-probs, every gradient, scoring, next-token distributions)",
    async (backend) => {
      await useBackend(backend);
      const model = make();
      const V = model.config.vocabSize;
      const rand = makeRng(8);
      const shared = randomIds(6, V, rand);
      const items: ScoreItem[] = [
        { promptIds: shared, completionIds: randomIds(5, V, rand) },
        { promptIds: shared, completionIds: randomIds(4, V, rand) },
        { promptIds: randomIds(3, V, rand), completionIds: randomIds(6, V, rand) },
        { promptIds: randomIds(2, V, rand), completionIds: [] },
      ];
      const w = Float64Array.from([0.9, -1.2, 0.6, 0.3]);
      const run = () => {
        const r = logprobGrads(model, items, () => ({ loss: 0, dlogps: w }));
        const grads = new Map([...r.grads].map(([n, g]) => [n, values(g)]));
        disposeGrads(r.grads);
        return { logps: r.logps, grads, score: scoreCompletions(model, items).perToken.flat(), next: nextTokenLogprobs(model, items) };
      };
      const whole = run(); // the tiny vocabulary fits in one block: the unsplit head
      const before = tf.memory().numTensors;
      // 16 scored rows: blocks of 3 rows forward, of ⌊(3·V)/16⌋ vocabulary columns backward;
      // 3 packed rows (one shared by two completions, tree-masked), each its own layer chunk
      setHeadBlockElements(3 * V);
      setLayerChunkElements(1);
      const split = run();
      expect(tf.memory().numTensors).toBe(before);
      expect(maxAbsDiff(split.logps, whole.logps)).toBeLessThan(1e-5 * Math.max(1, maxAbs(whole.logps)));
      expect(maxAbsDiff(split.score, whole.score)).toBeLessThan(1e-5 * Math.max(1, maxAbs(whole.score)));
      for (let i = 0; i < items.length; i++) expect(maxAbsDiff(split.next[i], whole.next[i])).toBeLessThan(1e-4);
      for (const [name, g] of whole.grads) {
        const tol = 1e-5 * Math.max(1, maxAbs(g));
        expect(maxAbsDiff(split.grads.get(name)!, g), name).toBeLessThan(tol);
      }
      // the next-token distributions are the log-softmax the summed scores pick from
      const lp0 = whole.next[0];
      expect(Math.abs(lp0.subarray(0, V).reduce((a, x) => a + Math.exp(x), 0) - 1)).toBeLessThan(1e-4);
      model.dispose();
    },
  );

  it("passes a finite-difference check with the head split into uneven blocks", () => {
    const model = make();
    const V = model.config.vocabSize;
    const rand = makeRng(21);
    const shared = randomIds(5, V, rand);
    const items: ScoreItem[] = [
      { promptIds: shared, completionIds: randomIds(4, V, rand) },
      { promptIds: shared, completionIds: randomIds(3, V, rand) },
      { promptIds: randomIds(2, V, rand), completionIds: randomIds(4, V, rand) },
    ];
    const w = [0.8, -1.1, 0.5];
    const lossOf = () => scoreCompletions(model, items).sum.reduce((a, x, i) => a + w[i] * x, 0);
    setHeadBlockElements(2 * V + 1); // 2 rows forward; backward blocks of ⌊(2V+1)/11⌋ columns
    setLayerChunkElements(1); // and (Llama) one packed row per chunk of each layer's backward
    const { grads } = logprobGrads(model, items, () => ({ loss: 0, dlogps: Float64Array.from(w) }));
    // the head (and embedding), the final norm, and one weight inside the first layer
    const names = model
      .paramNames()
      .filter((n) => /embed_tokens|lm_head|wte|model\.norm|ln_f\.weight|layers\.0\.mlp\.up|h\.0\.mlp\.c_fc\.weight/.test(n));
    expect(names.length).toBeGreaterThanOrEqual(3);
    const eps = 1e-2;
    let checked = 0;
    for (const name of names) {
      const base = values(model.getParam(name));
      const g = values(grads.get(name)!);
      let iMax = 0;
      for (let i = 1; i < g.length; i++) if (Math.abs(g[i]) > Math.abs(g[iMax])) iMax = i;
      for (const i of [iMax, Math.floor(rand() * g.length), Math.floor(rand() * g.length)]) {
        const probe = (delta: number) => {
          const v = Float32Array.from(base);
          v[i] += delta;
          model.setParams(new Map([[name, v]]));
          return lossOf();
        };
        const numeric = (probe(eps) - probe(-eps)) / (2 * eps);
        model.setParams(new Map([[name, base]]));
        const err = Math.abs(numeric - g[i]) / Math.max(1e-2, Math.abs(numeric) + Math.abs(g[i]));
        expect(err, `${name}[${i}]: analytic ${g[i]} numeric ${numeric}`).toBeLessThan(3e-2);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(9);
    disposeGrads(grads);
    model.dispose();
  });
});
