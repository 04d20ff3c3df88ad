import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend, useBackend } from "./backend.ts";
import { logprobGrads, type ScoreItem, scoreCompletions } from "./forward.ts";
import { GPT, makeRng } from "./model.ts";
import { AdamW, clipGradNorm, disposeGrads } from "./optim.ts";
import { sample } from "./sample.ts";
import { randomIds, TINY, tinyModel, values } from "./testing.ts";
import { byteTokenizer, encodePrompt } from "./tokenizer.ts";

beforeAll(async () => {
  await initBackend();
});

describe("GPT", () => {
  it("initialises like GPT-2 and exposes HF parameter names", () => {
    const cfg = { vocabSize: 260, nPositions: 64, nEmbd: 64, nLayer: 4, nHead: 4, layerNormEpsilon: 1e-5 };
    const m = GPT.create(cfg, 1);
    expect(m.paramNames()).toContain("transformer.h.3.attn.c_attn.weight");
    expect(m.getParam("transformer.h.0.attn.c_attn.weight").shape).toEqual([64, 192]);
    expect(m.numParams()).toBe(m.paramNames().reduce((a, n) => a + m.getParam(n).size, 0));
    const std = (n: string) => {
      const v = values(m.getParam(n));
      const mean = v.reduce((a, b) => a + b, 0) / v.length;
      return Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
    };
    expect(std("transformer.h.0.mlp.c_fc.weight")).toBeCloseTo(0.02, 3);
    expect(std("transformer.h.0.mlp.c_proj.weight")).toBeCloseTo(0.02 / Math.sqrt(8), 3);
    expect(values(m.getParam("transformer.h.2.ln_1.weight")).every((x) => x === 1)).toBe(true);
    // same seed, same weights; other seed, other weights
    const again = GPT.create(cfg, 1),
      other = GPT.create(cfg, 2);
    expect(values(again.getParam("transformer.wte.weight"))).toEqual(values(m.getParam("transformer.wte.weight")));
    expect(values(other.getParam("transformer.wte.weight"))).not.toEqual(values(m.getParam("transformer.wte.weight")));
    [m, again, other].forEach((x) => x.dispose());
  });

  it("clone is independent of the original", () => {
    const m = tinyModel(1);
    const c = m.clone();
    m.setParams(new Map([["transformer.ln_f.bias", new Float32Array(TINY.nEmbd).fill(3)]]));
    expect(values(c.getParam("transformer.ln_f.bias")).every((x) => x !== 3)).toBe(true);
    expect(() => m.setParams(new Map([["transformer.ln_f.bias", new Float32Array(3)]]))).toThrow(/expected 8 values/);
    expect(() => m.getParam("nope")).toThrow(/no parameter "nope"/);
    m.dispose();
    c.dispose();
  });

  it("is causal: changing a later token never changes an earlier log-prob", () => {
    const m = tinyModel(4);
    const rand = makeRng(3);
    const prompt = randomIds(3, TINY.vocabSize, rand);
    const comp = randomIds(8, TINY.vocabSize, rand);
    const base = scoreCompletions(m, [{ promptIds: prompt, completionIds: comp }]).perToken[0];
    for (const k of [2, 5, 7]) {
      const changed = [...comp];
      changed[k] = (changed[k] + 1) % TINY.vocabSize;
      // scored together with unrelated, longer items: padding and batching must not leak either
      const r = scoreCompletions(m, [
        { promptIds: prompt, completionIds: changed },
        { promptIds: randomIds(6, TINY.vocabSize, rand), completionIds: randomIds(9, TINY.vocabSize, rand) },
      ]).perToken[0];
      for (let j = 0; j < k; j++) expect(Math.abs(r[j] - base[j])).toBeLessThan(1e-6);
      expect(Math.abs(r[k] - base[k])).toBeGreaterThan(1e-6); // the changed token's own log-prob moves
    }
    m.dispose();
  });

  it("masks the prompt: only completion tokens are scored", () => {
    const m = tinyModel(4);
    const full = scoreCompletions(m, [{ promptIds: [1], completionIds: [2, 3, 4, 5] }]);
    const split = scoreCompletions(m, [{ promptIds: [1, 2, 3], completionIds: [4, 5] }]);
    expect(split.perToken[0]).toHaveLength(2);
    expect(split.perToken[0][0]).toBeCloseTo(full.perToken[0][2], 5);
    expect(split.perToken[0][1]).toBeCloseTo(full.perToken[0][3], 5);
    expect(split.sum[0]).toBeCloseTo(full.perToken[0][2] + full.perToken[0][3], 5);
    expect(() => scoreCompletions(m, [{ promptIds: [], completionIds: [1] }])).toThrow(/promptIds is empty/);
    expect(() => scoreCompletions(m, [{ promptIds: [1], completionIds: [99] }])).toThrow(/outside the vocabulary/);
    expect(() => scoreCompletions(m, [{ promptIds: [1], completionIds: new Array(20).fill(1) }])).toThrow(/context is 16/);
    m.dispose();
  });

  it("a few AdamW steps on a DPO-like objective raise the chosen completion's log-prob", () => {
    const m = tinyModel(12, TINY, 0.1);
    const items: ScoreItem[] = [
      { promptIds: [1, 2], completionIds: [3, 4, 5] },
      { promptIds: [1, 2], completionIds: [6, 7, 8] },
    ];
    const opt = new AdamW({ lr: 1e-2, weightDecay: 0 });
    const before = scoreCompletions(m, items).sum;
    for (let i = 0; i < 10; i++) {
      const { grads } = logprobGrads(m, items, (lp) => ({ loss: -(lp[0] - lp[1]), dlogps: Float64Array.from([-1, 1]) }));
      clipGradNorm(grads, 1);
      opt.step(m, grads);
      disposeGrads(grads);
    }
    const after = scoreCompletions(m, items).sum;
    expect(after[0] - after[1]).toBeGreaterThan(before[0] - before[1] + 1);
    opt.dispose();
    m.dispose();
  });

  it("clipGradNorm returns the pre-clip norm and scales to maxNorm", () => {
    const g = new Map<string, tf.Tensor>([
      ["a", tf.tensor1d([3, 0])],
      ["b", tf.tensor1d([4])],
    ]);
    expect(clipGradNorm(g, 1)).toBeCloseTo(5, 5);
    expect(Array.from(values(g.get("a")!))).toEqual([expect.closeTo(0.6, 5), 0]);
    expect(values(g.get("b")!)[0]).toBeCloseTo(0.8, 5);
    disposeGrads(g);
  });
});

describe("backend independence", () => {
  afterAll(async () => {
    await useBackend("wasm");
  });

  it("cpu and wasm agree to 1e-4 on log-probs, gradients and greedy samples", async () => {
    const rand = makeRng(21);
    const items: ScoreItem[] = [
      { promptIds: randomIds(4, TINY.vocabSize, rand), completionIds: randomIds(6, TINY.vocabSize, rand) },
      { promptIds: randomIds(2, TINY.vocabSize, rand), completionIds: randomIds(9, TINY.vocabSize, rand) },
    ];
    const run = async (backend: "cpu" | "wasm") => {
      await useBackend(backend);
      const m = tinyModel(8);
      const s = scoreCompletions(m, items);
      const { grads } = logprobGrads(m, items, () => ({ loss: 0, dlogps: Float64Array.from([1, -0.5]) }));
      const g = new Map([...grads].map(([n, t]) => [n, values(t)]));
      disposeGrads(grads);
      const tok = {
        ...byteTokenizer(),
        vocabSize: TINY.vocabSize,
        bos: 0,
        eos: 12,
        pad: 11,
        encode: (t: string) => Array.from(t, (ch) => ch.charCodeAt(0) % 10),
      };
      const [greedy] = await sample(m, tok, { promptIds: encodePrompt(tok, "abc"), n: 1, temperature: 0, maxNewTokens: 8, seed: 0 });
      m.dispose();
      return { s, g, greedy: greedy.ids };
    };
    const w = await run("wasm");
    const c = await run("cpu");
    expect(tf.getBackend()).toBe("cpu");
    w.s.sum.forEach((x, i) => expect(Math.abs(x - c.s.sum[i])).toBeLessThan(1e-4));
    for (const [n, gw] of w.g) {
      const gc = c.g.get(n)!;
      for (let i = 0; i < gw.length; i++) expect(Math.abs(gw[i] - gc[i]), n).toBeLessThan(1e-4);
    }
    expect(c.greedy).toEqual(w.greedy);
  });
});
