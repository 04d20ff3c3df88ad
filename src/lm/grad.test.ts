import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "./backend.ts";
import { forwardWithGrad, logprobGrads, type ScoreItem, scoreCompletions } from "./forward.ts";
import { makeRng } from "./model.ts";
import { disposeGrads } from "./optim.ts";
import { pack } from "./pack.ts";
import { randomIds, TINY, tinyModel, values } from "./testing.ts";

beforeAll(async () => {
  await initBackend();
});

describe("logprobGrads", () => {
  it("matches central finite differences of a weighted sum of log-probs", () => {
    const model = tinyModel(3);
    const rand = makeRng(11);
    const shared = randomIds(8, TINY.vocabSize, rand); // long enough to be shared (pack.ts)
    const items: ScoreItem[] = [
      { promptIds: randomIds(3, TINY.vocabSize, rand), completionIds: randomIds(5, TINY.vocabSize, rand) },
      { promptIds: randomIds(1, TINY.vocabSize, rand), completionIds: randomIds(7, TINY.vocabSize, rand) },
      // a chosen/rejected-style pair: one packed row with a tree mask
      { promptIds: shared, completionIds: randomIds(4, TINY.vocabSize, rand) },
      { promptIds: shared, completionIds: randomIds(3, TINY.vocabSize, rand) },
    ];
    const w = [0.7, -1.3, 0.4, -0.9];
    expect(pack(model, items).B).toBe(3); // the last two items share one tree-masked row
    const lossOf = (lp: ArrayLike<number>) => Array.from(lp).reduce((a, x, i) => a + w[i] * x, 0);
    const { loss, logps, grads } = logprobGrads(model, items, (lp) => ({ loss: lossOf(lp), dlogps: Float64Array.from(w) }));
    // reference log-probs from items scored one by one (no shared rows)
    const ref = { sum: items.map((it) => scoreCompletions(model, [it]).sum[0]) };
    for (let i = 0; i < items.length; i++) expect(logps[i]).toBeCloseTo(ref.sum[i], 4);
    expect(loss).toBeCloseTo(lossOf(ref.sum), 4);

    const eps = 1e-2;
    let checked = 0;
    let worst = 0;
    for (const name of model.paramNames()) {
      const base = values(model.getParam(name));
      const g = values(grads.get(name)!);
      expect(g.length).toBe(base.length);
      // a few coordinates per tensor, always including the largest-gradient one
      let iMax = 0;
      for (let i = 1; i < g.length; i++) if (Math.abs(g[i]) > Math.abs(g[iMax])) iMax = i;
      const coords = [iMax, Math.floor(rand() * base.length), Math.floor(rand() * base.length)];
      for (const i of coords) {
        const probe = (delta: number) => {
          const v = Float32Array.from(base);
          v[i] += delta;
          model.setParams(new Map([[name, v]]));
          return lossOf(items.map((it) => scoreCompletions(model, [it]).sum[0]));
        };
        const numeric = (probe(eps) - probe(-eps)) / (2 * eps);
        model.setParams(new Map([[name, base]]));
        const err = Math.abs(numeric - g[i]) / Math.max(1e-2, Math.abs(numeric) + Math.abs(g[i]));
        worst = Math.max(worst, err);
        expect(err, `${name}[${i}]: analytic ${g[i]} numeric ${numeric}`).toBeLessThan(2e-2);
        checked++;
      }
    }
    console.log(JSON.stringify({ gradcheck_worst_rel_err: worst, checked }));
    expect(checked).toBeGreaterThan(50);
    disposeGrads(grads);
    model.dispose();
  });

  it("packs completions of a shared prompt into one row without changing any log-prob", () => {
    const model = tinyModel(9);
    const rand = makeRng(12);
    const prompt = randomIds(8, TINY.vocabSize, rand);
    const items: ScoreItem[] = [
      { promptIds: prompt, completionIds: randomIds(5, TINY.vocabSize, rand) },
      { promptIds: randomIds(2, TINY.vocabSize, rand), completionIds: randomIds(3, TINY.vocabSize, rand) },
      { promptIds: prompt, completionIds: randomIds(1, TINY.vocabSize, rand) },
      { promptIds: prompt, completionIds: [] },
      { promptIds: prompt, completionIds: randomIds(6, TINY.vocabSize, rand) },
    ];
    const together = scoreCompletions(model, items);
    items.forEach((it, i) => {
      const alone = scoreCompletions(model, [it]);
      expect(together.perToken[i]).toHaveLength(it.completionIds.length);
      alone.perToken[0].forEach((x, j) => expect(Math.abs(together.perToken[i][j] - x)).toBeLessThan(1e-5));
    });
    expect(together.sum[3]).toBe(0);
    // and the packing really shares: one row for the first three items with this prompt
    const pk = pack(model, items);
    expect(pk.B).toBe(3); // [0,2,3] shared, [1] alone, [4] split off (the shared row would exceed the context)
    expect(pk.bias).not.toBeNull();
    model.dispose();
  });

  it("frees every saved activation (attention's kept tensors included) whether the pass is backpropagated, disposed, or only scored", () => {
    const model = tinyModel(5);
    const rand = makeRng(17);
    const shared = randomIds(8, TINY.vocabSize, rand);
    const items: ScoreItem[] = [
      { promptIds: shared, completionIds: randomIds(4, TINY.vocabSize, rand) },
      { promptIds: shared, completionIds: randomIds(3, TINY.vocabSize, rand) },
      { promptIds: randomIds(2, TINY.vocabSize, rand), completionIds: randomIds(5, TINY.vocabSize, rand) },
    ];
    const backprop = () =>
      disposeGrads(logprobGrads(model, items, (lp) => ({ loss: 0, dlogps: new Float64Array(lp.length).fill(1) })).grads);
    backprop(); // warm-up: cached Wᵀ copies, when the layout uses them
    const count = () => (model.invalidateTransposes(), tf.memory().numTensors);
    const before = count();
    backprop();
    expect(count()).toBe(before);
    const pending = forwardWithGrad(model, items);
    expect(tf.memory().numTensors).toBeGreaterThan(before); // it does hold activations
    pending.dispose();
    expect(count()).toBe(before);
    expect(() => pending.backward(new Float64Array(items.length))).toThrow(/already called/);
    scoreCompletions(model, items);
    expect(count()).toBe(before);
    model.dispose();
  });
});
