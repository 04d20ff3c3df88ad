// Finite-difference checks of every Llama-family layer's gradient (RMSNorm, RoPE, grouped-query
// attention, SwiGLU, per-head q/k norm) and of a whole model's logprobGrads, on both backends.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BackendName, initBackend, useBackend } from "../backend.ts";
import { loadCheckpoint } from "../checkpoint.ts";
import { logprobGrads, type ScoreItem, scoreCompletions } from "../forward.ts";
import { makeRng } from "../model.ts";
import { disposeGrads } from "../optim.ts";
import { ropeTables } from "./config.ts";
import { tinyHFConfig, writeTinyHF } from "./fixtures.ts";
import { gqa, rmsNorm, rope, swiglu } from "./layers.ts";
import type { LlamaModel } from "./model.ts";

let root: string;
let initial: BackendName;
beforeAll(async () => {
  initial = await initBackend();
  root = await mkdtemp(path.join(tmpdir(), "llama-grad-"));
});
afterAll(async () => {
  await useBackend(initial);
  await rm(root, { recursive: true, force: true });
});

function randn(rand: () => number, n: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale);
}

/**
 * Compares tf.grads of Σ f(args)·R against central differences on float64 re-evaluations,
 * for a few coordinates of every argument. Returns the worst relative error.
 */
function check(f: (...a: tf.Tensor[]) => tf.Tensor, args: { shape: number[]; values: Float32Array }[], seed: number): number {
  const rand = makeRng(seed);
  const outShape = tf.tidy(() => f(...args.map((a) => tf.tensor(a.values, a.shape))).shape);
  const R = randn(
    rand,
    outShape.reduce((a, b) => a * b, 1),
  );
  const loss = (...a: tf.Tensor[]) => tf.sum(tf.mul(f(...a), tf.tensor(R, outShape)));
  const analytic = tf.tidy(() =>
    tf
      .grads(loss)(args.map((a) => tf.tensor(a.values, a.shape)))
      .map((g) => Float32Array.from(g.dataSync() as Float32Array)),
  );
  const evalAt = (vals: Float32Array[]) => tf.tidy(() => loss(...vals.map((v, i) => tf.tensor(v, args[i].shape))).dataSync()[0]);
  let worst = 0;
  const eps = 1e-2;
  args.forEach((_a, ai) => {
    const g = analytic[ai];
    let iMax = 0;
    for (let i = 1; i < g.length; i++) if (Math.abs(g[i]) > Math.abs(g[iMax])) iMax = i;
    for (const i of [iMax, Math.floor(rand() * g.length), Math.floor(rand() * g.length)]) {
      const probe = (delta: number) =>
        evalAt(
          args.map((b, bi) => {
            const v = Float32Array.from(b.values);
            if (bi === ai) v[i] += delta;
            return v;
          }),
        );
      const numeric = (probe(eps) - probe(-eps)) / (2 * eps);
      const err = Math.abs(numeric - g[i]) / Math.max(1e-2, Math.abs(numeric) + Math.abs(g[i]));
      worst = Math.max(worst, err);
    }
  });
  return worst;
}

for (const backend of ["cpu", "wasm"] as const) {
  describe(`layer gradients on ${backend}`, () => {
    beforeAll(async () => {
      await useBackend(backend);
    });
    const rand = makeRng(backend === "cpu" ? 1 : 2);

    it("RMSNorm", () => {
      const worst = check(
        (x, w) => rmsNorm(x, w, 1e-6),
        [
          { shape: [5, 8], values: randn(rand, 40) },
          { shape: [8], values: randn(rand, 8) },
        ],
        3,
      );
      expect(worst).toBeLessThan(2e-2);
    });

    it("per-head q/k RMSNorm (qwen3)", () => {
      const worst = check(
        (x, w) => tf.reshape(rmsNorm(tf.reshape(x, [5, 3, 4]), w, 1e-6), [5, 12]),
        [
          { shape: [5, 12], values: randn(rand, 60) },
          { shape: [4], values: randn(rand, 4) },
        ],
        4,
      );
      expect(worst).toBeLessThan(2e-2);
    });

    it("RoPE (rotate half, llama3 scaling)", () => {
      const cfg = {
        headDim: 8,
        ropeTheta: 500000,
        ropeScaling: { factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 16 },
      };
      const pos = [0, 1, 2, 7, 30, 5];
      const { cos, sin } = ropeTables(cfg, pos);
      const worst = check(
        (x) => rope(x as tf.Tensor2D, 2, 8, tf.tensor3d(cos, [6, 1, 8]), tf.tensor3d(sin, [6, 1, 8])),
        [{ shape: [6, 16], values: randn(rand, 96) }],
        5,
      );
      expect(worst).toBeLessThan(2e-2);
    });

    it("grouped-query attention (4 query heads on 2 key/value heads, causal)", () => {
      const B = 2,
        T = 5,
        H = 4,
        KV = 2,
        d = 4,
        rep = H / KV;
      const mask = new Float32Array(rep * T * T);
      for (let r = 0; r < rep; r++) for (let i = 0; i < T; i++) mask.fill(-1e9, r * T * T + i * T + i + 1, r * T * T + (i + 1) * T);
      const worst = check(
        (q, k, v) => gqa(q as tf.Tensor2D, k as tf.Tensor2D, v as tf.Tensor2D, B, T, H, KV, d, tf.tensor4d(mask, [1, 1, rep * T, T])),
        [
          { shape: [B * T, H * d], values: randn(rand, B * T * H * d) },
          { shape: [B * T, KV * d], values: randn(rand, B * T * KV * d) },
          { shape: [B * T, KV * d], values: randn(rand, B * T * KV * d) },
        ],
        6,
      );
      expect(worst).toBeLessThan(2e-2);
    });

    it("SwiGLU MLP", () => {
      const worst = check(
        (x, g, u, dn) => swiglu(x as tf.Tensor2D, g, u, dn),
        [
          { shape: [4, 6], values: randn(rand, 24) },
          { shape: [6, 10], values: randn(rand, 60, 0.5) },
          { shape: [6, 10], values: randn(rand, 60, 0.5) },
          { shape: [10, 6], values: randn(rand, 60, 0.5) },
        ],
        7,
      );
      expect(worst).toBeLessThan(2e-2);
    });

    it("a whole qwen2 model's logprobGrads (biases, GQA, shared-prompt rows)", async () => {
      const dir = path.join(root, `model-${backend}`);
      await writeTinyHF(dir, tinyHFConfig("qwen2", { vocab_size: 264, num_hidden_layers: 2 }), { seed: 21, scale: 256 });
      const { model } = await loadCheckpoint(dir);
      const m = model as LlamaModel;
      const r = makeRng(4);
      const ids = (n: number) => Array.from({ length: n }, () => Math.floor(r() * 259));
      const shared = ids(9);
      const items: ScoreItem[] = [
        { promptIds: shared, completionIds: ids(4) },
        { promptIds: shared, completionIds: ids(3) },
        { promptIds: ids(2), completionIds: ids(5) },
      ];
      const w = [0.8, -1.1, 0.5];
      const lossOf = (lp: ArrayLike<number>) => Array.from(lp).reduce((a, x, i) => a + w[i] * x, 0);
      const { grads } = logprobGrads(m, items, () => ({ loss: 0, dlogps: Float64Array.from(w) }));
      let worst = 0,
        checked = 0;
      const eps = 1e-2;
      for (const name of m.paramNames()) {
        const base = Float32Array.from(m.getParam(name).dataSync() as Float32Array);
        const g = grads.get(name)!.dataSync() as Float32Array;
        let iMax = 0;
        for (let i = 1; i < g.length; i++) if (Math.abs(g[i]) > Math.abs(g[iMax])) iMax = i;
        for (const i of [iMax, Math.floor(r() * g.length)]) {
          const probe = (delta: number) => {
            const v = Float32Array.from(base);
            v[i] += delta;
            m.setParams(new Map([[name, v]]));
            return lossOf(items.map((it) => scoreCompletions(m, [it]).sum[0]));
          };
          const numeric = (probe(eps) - probe(-eps)) / (2 * eps);
          m.setParams(new Map([[name, base]]));
          const err = Math.abs(numeric - g[i]) / Math.max(1e-2, Math.abs(numeric) + Math.abs(g[i]));
          worst = Math.max(worst, err);
          expect(err, `${name}[${i}]: analytic ${g[i]} numeric ${numeric}`).toBeLessThan(3e-2);
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(30);
      disposeGrads(grads);
      m.dispose();
    });
  });
}
