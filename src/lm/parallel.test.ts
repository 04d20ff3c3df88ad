import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "./backend.ts";
import { logprobGrads, type ScoreItem } from "./forward.ts";
import { makeRng } from "./model.ts";
import { AdamW, disposeGrads } from "./optim.ts";
import { assignShards, GradWorkerPool } from "./parallel.ts";
import { randomIds, TINY, tinyModel, values } from "./testing.ts";

let pool: GradWorkerPool;
beforeAll(async () => {
  await initBackend();
  pool = await GradWorkerPool.create({ workers: 2 });
});
afterAll(async () => {
  await pool.close();
});

describe("GradWorkerPool", () => {
  it("keeps chosen/rejected of one prompt in the same shard and balances the rest", () => {
    const p = (k: number) => Array.from({ length: 10 }, (_, i) => i + k);
    const c = [1, 2, 3];
    // DPO order: all chosen first, then all rejected
    const items: ScoreItem[] = [0, 1, 2, 3, 0, 1, 2, 3].map((k) => ({ promptIds: p(k), completionIds: c }));
    const shards = assignShards(items, 2);
    expect(shards.flat().sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    for (const sh of shards) {
      expect(sh).toHaveLength(4);
      for (const i of sh) expect(sh).toContain(i < 4 ? i + 4 : i - 4);
    }
  });

  it("gives the same loss, log-probs and gradients as the single-thread pass, across parameter updates", async () => {
    const model = tinyModel(31);
    const rand = makeRng(5);
    const items: ScoreItem[] = Array.from({ length: 5 }, () => ({
      promptIds: randomIds(1 + Math.floor(rand() * 4), TINY.vocabSize, rand),
      completionIds: randomIds(2 + Math.floor(rand() * 6), TINY.vocabSize, rand),
    }));
    // a loss that couples items across shards: a softmax over all summed log-probs
    const lossFn = (lp: Float64Array) => {
      const mx = Math.max(...lp);
      const e = Array.from(lp, (x) => Math.exp(x - mx));
      const z = e.reduce((a, b) => a + b, 0);
      return { loss: -Math.log(e[0] / z), dlogps: Float64Array.from(e, (x, i) => x / z - (i === 0 ? 1 : 0)) };
    };
    const opt = new AdamW({ lr: 1e-2 });
    let buffer: SharedArrayBuffer | undefined;
    for (let round = 0; round < 2; round++) {
      const a = logprobGrads(model, items, lossFn);
      const b = await pool.logprobGrads(model, items, lossFn);
      // the workers' weights: one shared buffer per model, rewritten in place after each update
      const shared = pool.sharedWeightsOf(model)!;
      expect(shared.buffer).toBeInstanceOf(SharedArrayBuffer);
      expect(shared.buffer.byteLength).toBe(model.numParams() * 4);
      if (buffer) expect(shared.buffer).toBe(buffer);
      buffer = shared.buffer;
      expect(shared.version).toBe(model.version);
      for (const [name, offset, shape] of shared.layout) {
        const inBuffer = new Float32Array(
          shared.buffer,
          offset * 4,
          shape.reduce((x, y) => x * y, 1),
        );
        expect(Array.from(inBuffer), name).toEqual(Array.from(values(model.getParam(name))));
      }
      expect(b.loss).toBeCloseTo(a.loss, 5);
      Array.from(a.logps).forEach((x, i) => expect(b.logps[i]).toBeCloseTo(x, 4));
      for (const [n, g] of a.grads) {
        const ga = values(g),
          gb = values(b.grads.get(n)!);
        for (let i = 0; i < ga.length; i++) expect(Math.abs(ga[i] - gb[i]), n).toBeLessThan(1e-5);
      }
      opt.step(model, a.grads); // the workers must pick up the new weights next round
      disposeGrads(a.grads);
      disposeGrads(b.grads);
    }
    opt.dispose();
    model.dispose();
  });

  it("reports a worker-side error clearly and stays usable", async () => {
    const model = tinyModel(32);
    const bad: ScoreItem[] = [
      { promptIds: [1], completionIds: [2] },
      { promptIds: [1], completionIds: [2] },
      { promptIds: [], completionIds: [3] },
    ];
    await expect(pool.logprobGrads(model, bad, () => ({ loss: 0, dlogps: new Float64Array(3) }))).rejects.toThrow(/promptIds is empty/);
    const before = tf.memory().numTensors;
    const ok = await pool.logprobGrads(model, bad.slice(0, 2), (lp) => ({ loss: 0, dlogps: new Float64Array(lp.length).fill(1) }));
    expect(ok.grads.size).toBe(model.paramNames().length);
    disposeGrads(ok.grads);
    model.invalidateTransposes();
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before);
    model.dispose();
  });

  it("trains a Llama-family model too: the same log-probs and gradients as the single-thread pass", async () => {
    const { mkdtemp, rm } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const path = await import("node:path");
    const { loadCheckpoint } = await import("./checkpoint.ts");
    const { tinyHFConfig, writeTinyHF } = await import("./llama/fixtures.ts");
    const dir = await mkdtemp(path.join(tmpdir(), "pool-llama-"));
    await writeTinyHF(dir, tinyHFConfig("qwen3"), { seed: 8 });
    const { model } = await loadCheckpoint(dir);
    const rand = makeRng(6);
    const items: ScoreItem[] = Array.from({ length: 4 }, () => ({
      promptIds: randomIds(2, 259, rand),
      completionIds: randomIds(4, 259, rand),
    }));
    const lossFn = (lp: Float64Array) => ({ loss: lp.reduce((a, x) => a + x, 0), dlogps: new Float64Array(lp.length).fill(1) });
    const single = logprobGrads(model, items, lossFn);
    const par = await pool.logprobGrads(model, items, lossFn);
    Array.from(single.logps).forEach((x, i) => expect(par.logps[i]).toBeCloseTo(x, 5));
    for (const [n, g] of single.grads) {
      const a = values(g),
        b = values(par.grads.get(n)!);
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
      expect(worst, n).toBeLessThan(1e-4);
    }
    disposeGrads(single.grads);
    disposeGrads(par.grads);
    model.dispose();
    await rm(dir, { recursive: true, force: true });
  });
});
