import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "./backend.ts";
import { SampleBatcher } from "./batch.ts";
import { scoreCompletions } from "./forward.ts";
import type { GPTConfig } from "./model.ts";
import { type SampledCompletion, type SampleOptions, sample } from "./sample.ts";
import { tinyModel } from "./testing.ts";
import { byteTokenizer, encodePrompt, type Tokenizer } from "./tokenizer.ts";

// Byte-vocabulary tiny model, as in sample.test.ts, with room for prompts of different lengths.
const CFG: GPTConfig = { vocabSize: 260, nPositions: 48, nEmbd: 16, nLayer: 2, nHead: 2, layerNormEpsilon: 1e-5 };
let tok: Tokenizer;

beforeAll(async () => {
  await initBackend();
  tok = byteTokenizer();
});

/** Batched results must be what plain sample() gives for the same options: ids exactly, log-probs to 1e-4. */
function expectSame(got: SampledCompletion[], want: SampledCompletion[]): void {
  expect(got).toHaveLength(want.length);
  got.forEach((g, i) => {
    expect(g.ids).toEqual(want[i].ids);
    expect(g.text).toBe(want[i].text);
    expect(g.finishReason).toBe(want[i].finishReason);
    expect(Math.abs(g.logprob - want[i].logprob)).toBeLessThan(1e-4);
    g.stepLogprobs.forEach((lp, j) => expect(Math.abs(lp - want[i].stepLogprobs[j])).toBeLessThan(1e-4));
  });
}

const nextTurn = () => new Promise<void>((res) => setImmediate(res));

describe("SampleBatcher", () => {
  it("gives every request exactly what sample() gives it, with requests of different shapes joining mid-flight", async () => {
    const model = tinyModel(21, CFG, 0.15);
    const base = { temperature: 1 } as const;
    const reqs: SampleOptions[] = [
      { ...base, promptIds: encodePrompt(tok, "Call me Ishmael."), n: 2, maxNewTokens: 20, seed: 1 },
      { ...base, promptIds: encodePrompt(tok, "x"), n: 3, maxNewTokens: 30, seed: 2, topK: 5 },
      { ...base, promptIds: encodePrompt(tok, "It was the best of times"), n: 1, maxNewTokens: 12, seed: 3, topP: 0.8 },
      { ...base, promptIds: encodePrompt(tok, "ab"), n: 4, maxNewTokens: 8, seed: 4, temperature: 0 },
      { ...base, promptIds: encodePrompt(tok, "The whale, the whale!"), n: 2, maxNewTokens: 40, seed: 5, temperature: 0.7 }, // runs into the context end
      { ...base, promptIds: encodePrompt(tok, "q"), n: 1, maxNewTokens: 1, seed: 6 },
    ];
    const want: SampledCompletion[][] = [];
    for (const o of reqs) want.push(await sample(model, tok, o));

    const batcher = new SampleBatcher();
    const pending: Promise<SampledCompletion[]>[] = [];
    let steps = 0;
    // two start together; the rest join while those are decoding, after 2, 5 and 9 steps of the first
    pending.push(
      batcher.sample(model, tok, {
        ...reqs[0],
        onToken: (i) => {
          if (i !== 0) return;
          const step = ++steps;
          if (step === 2) pending.push(batcher.sample(model, tok, reqs[2]));
          if (step === 5) pending.push(batcher.sample(model, tok, reqs[3]), batcher.sample(model, tok, reqs[4]));
          if (step === 9) pending.push(batcher.sample(model, tok, reqs[5]));
        },
      }),
    );
    pending.push(batcher.sample(model, tok, reqs[1]));
    await nextTurn();
    while (pending.length < reqs.length) await nextTurn();
    const got = await Promise.all(pending);
    got.forEach((g, i) => expectSame(g, want[i]));
    // they really shared steps: fewer forward passes than the requests would run on their own
    const solo = want.reduce((a, r) => a + 1 + Math.max(...r.map((c) => c.ids.length)) - 1, 0);
    expect(batcher.stats.steps).toBeLessThan(solo);
    expect(batcher.stats.maxSegmentsInStep).toBeGreaterThanOrEqual(6);
    await batcher.close();
    model.dispose();
  });

  it("queues requests beyond maxRows and still matches sample()", async () => {
    const model = tinyModel(22, CFG, 0.15);
    const reqs = Array.from({ length: 6 }, (_, i) => ({
      promptIds: encodePrompt(tok, "ab".repeat(i + 1)),
      n: 1 + (i % 3),
      temperature: 1,
      maxNewTokens: 6 + 3 * i,
      seed: 100 + i,
    }));
    const want: SampledCompletion[][] = [];
    for (const o of reqs) want.push(await sample(model, tok, o));
    const batcher = new SampleBatcher({ maxRows: 4 });
    const got = await Promise.all(reqs.map((o) => batcher.sample(model, tok, o)));
    got.forEach((g, i) => expectSame(g, want[i]));
    // a step carries the running rows plus the prompts of requests admitted into free rows: never more than 4
    expect(batcher.stats.maxSegmentsInStep).toBeLessThanOrEqual(4);
    expect(batcher.stats.steps).toBeLessThan(want.reduce((a, r) => a + Math.max(...r.map((c) => c.ids.length)), 0));
    await batcher.close();
    model.dispose();
  });

  it("an aborted request ends alone; the others are untouched", async () => {
    const model = tinyModel(23, CFG, 0.15);
    const a = { promptIds: encodePrompt(tok, "Hello"), n: 2, temperature: 1, maxNewTokens: 25, seed: 11 };
    const b = { promptIds: encodePrompt(tok, "World!"), n: 2, temperature: 1, maxNewTokens: 25, seed: 12 };
    const wantA = await sample(model, tok, a);
    const wantB = await sample(model, tok, b);
    const batcher = new SampleBatcher();
    const ac = new AbortController();
    let seen = 0;
    const victim = batcher.sample(model, tok, {
      promptIds: encodePrompt(tok, "abort me"),
      n: 3,
      temperature: 1,
      maxNewTokens: 30,
      seed: 13,
      signal: ac.signal,
      onToken: () => {
        if (++seen === 6) ac.abort();
      },
    });
    const [gotA, gotV, gotB] = await Promise.all([batcher.sample(model, tok, a), victim, batcher.sample(model, tok, b)]);
    expectSame(gotA, wantA);
    expectSame(gotB, wantB);
    expect(seen).toBe(6);
    for (const r of gotV) {
      expect(["aborted", "eos"]).toContain(r.finishReason);
      expect(r.ids.length).toBeLessThanOrEqual(2);
    }
    expect(gotV.some((r) => r.finishReason === "aborted")).toBe(true);
    // a request whose signal fired before it was admitted comes back empty and aborted
    const pre = new AbortController();
    pre.abort();
    const [early] = await batcher.sample(model, tok, { ...a, n: 1, signal: pre.signal });
    expect(early).toMatchObject({ ids: [], finishReason: "aborted" });
    await batcher.close();
    model.dispose();
  });

  it("an error in one request (bad options, a throwing onToken) rejects only that request", async () => {
    const model = tinyModel(24, CFG, 0.15);
    const a = { promptIds: encodePrompt(tok, "fine"), n: 2, temperature: 1, maxNewTokens: 15, seed: 21 };
    const wantA = await sample(model, tok, a);
    const batcher = new SampleBatcher();
    const bad = batcher.sample(model, tok, { ...a, n: 0 });
    const throwing = batcher.sample(model, tok, {
      ...a,
      seed: 22,
      onToken: (_i, _id, text) => {
        if (text.length >= 3) throw new Error("client went away");
      },
    });
    const good = batcher.sample(model, tok, a);
    await expect(bad).rejects.toThrow(/n must be a positive integer/);
    await expect(throwing).rejects.toThrow("client went away");
    expectSame(await good, wantA);
    await batcher.close();
    model.dispose();
  });

  it("stops rows on EOS (kept in ids) and on stop strings (cut from text), as sample() does", async () => {
    const model = tinyModel(25, CFG, 0.15);
    const promptIds = encodePrompt(tok, "Once");
    // make EOS a token this model emits often: the most frequent id of a reference run
    const ref = await sample(model, tok, { promptIds, n: 8, temperature: 1, maxNewTokens: 30, seed: 31 });
    const freq = new Map<number, number>();
    for (const r of ref) for (const id of r.ids) freq.set(id, (freq.get(id) ?? 0) + 1);
    const common = [...freq.entries()].sort((x, y) => y[1] - x[1]).filter(([id]) => id >= 32 && id < 127); // printable ASCII: one byte, one character
    const eosTok: Tokenizer = { ...tok, eos: common[0][0] };
    const stops = common.slice(1, 9).map(([id]) => String.fromCharCode(id));
    const reqs: [Tokenizer, SampleOptions][] = [
      [eosTok, { promptIds, n: 4, temperature: 1, maxNewTokens: 30, seed: 32 }],
      [tok, { promptIds, n: 4, temperature: 1, maxNewTokens: 30, seed: 33, stopStrings: [...stops, "zzz"] }],
      [tok, { promptIds: encodePrompt(tok, "Twice"), n: 2, temperature: 1, maxNewTokens: 30, seed: 34 }],
    ];
    const want: SampledCompletion[][] = [];
    for (const [t, o] of reqs) want.push(await sample(model, t, o));
    const batcher = new SampleBatcher();
    const got = await Promise.all(reqs.map(([t, o]) => batcher.sample(model, t, o)));
    got.forEach((g, i) => expectSame(g, want[i]));
    const eosRows = got[0].filter((r) => r.finishReason === "eos");
    expect(eosRows.length).toBeGreaterThan(0);
    for (const r of eosRows) expect(r.ids.at(-1)).toBe(eosTok.eos);
    const stopRows = got[1].filter((r) => r.finishReason === "stop");
    expect(stopRows.length).toBeGreaterThan(0);
    for (const r of stopRows) {
      expect(stops.some((st) => r.text.includes(st))).toBe(false);
      expect(stops.some((st) => tok.decode(r.ids).endsWith(st))).toBe(true);
    }
    await batcher.close();
    model.dispose();
  });

  it("top-k and top-p never emit a token outside the allowed set, and sampled log-probs equal scored ones", async () => {
    const model = tinyModel(26, CFG, 0.15);
    const promptIds = encodePrompt(tok, "Top");
    const batcher = new SampleBatcher();
    const [k3, p5] = await Promise.all([
      batcher.sample(model, tok, { promptIds, n: 2, temperature: 2, topK: 3, maxNewTokens: 5, seed: 41 }),
      batcher.sample(model, tok, { promptIds, n: 2, temperature: 1, topP: 0.5, maxNewTokens: 5, seed: 42 }),
    ]);
    // the log-prob of every candidate next token, from the training/scoring forward pass
    const candidates = (prefix: number[]) =>
      scoreCompletions(
        model,
        Array.from({ length: CFG.vocabSize }, (_, v) => ({ promptIds, completionIds: [...prefix, v] })),
        { batchSize: 130 },
      ).perToken.map((lp) => lp.at(-1)!);
    for (const [rows, check] of [
      [k3, (lps: number[], chosen: number) => expect(lps.filter((lp) => lp > lps[chosen] + 1e-4).length).toBeLessThan(3)],
      [
        p5,
        (lps: number[], chosen: number) =>
          expect(lps.filter((lp) => lp > lps[chosen] + 1e-4).reduce((a, lp) => a + Math.exp(lp), 0)).toBeLessThan(0.5 + 1e-4),
      ],
    ] as const) {
      for (const r of rows) {
        for (let j = 0; j < r.ids.length; j++) check(candidates(r.ids.slice(0, j)), r.ids[j]);
      }
    }
    const all = [...k3, ...p5];
    const scored = scoreCompletions(
      model,
      all.map((r) => ({ promptIds, completionIds: r.ids })),
    );
    all.forEach((r, i) => {
      expect(Math.abs(r.logprob - scored.sum[i])).toBeLessThan(1e-4);
      r.stepLogprobs.forEach((lp, j) => expect(Math.abs(lp - scored.perToken[i][j])).toBeLessThan(1e-4));
    });
    await batcher.close();
    model.dispose();
  });

  it("batches each model separately", async () => {
    const m1 = tinyModel(27, CFG, 0.15),
      m2 = tinyModel(28, CFG, 0.15);
    const o = { promptIds: encodePrompt(tok, "same prompt"), n: 2, temperature: 1, maxNewTokens: 12, seed: 51 };
    const want1 = await sample(m1, tok, o),
      want2 = await sample(m2, tok, o);
    expect(want1.map((r) => r.ids)).not.toEqual(want2.map((r) => r.ids));
    const batcher = new SampleBatcher();
    const [g1, g2, g1b] = await Promise.all([batcher.sample(m1, tok, o), batcher.sample(m2, tok, o), batcher.sample(m1, tok, o)]);
    expectSame(g1, want1);
    expectSame(g1b, want1);
    expectSame(g2, want2);
    await batcher.close();
    m1.dispose();
    m2.dispose();
  });

  it("close() ends requests in flight as aborted and refuses new ones", async () => {
    const model = tinyModel(29, CFG, 0.15);
    const batcher = new SampleBatcher();
    let tokens = 0;
    const running = batcher.sample(model, tok, {
      promptIds: encodePrompt(tok, "long"),
      n: 2,
      temperature: 1,
      maxNewTokens: 40,
      seed: 61,
      onToken: () => void tokens++,
    });
    while (tokens < 4) await nextTurn();
    await batcher.close();
    const res = await running;
    expect(res.some((r) => r.finishReason === "aborted")).toBe(true);
    for (const r of res) expect(r.ids.length).toBeLessThan(40);
    await expect(
      batcher.sample(model, tok, { promptIds: encodePrompt(tok, "late"), n: 1, temperature: 1, maxNewTokens: 4, seed: 62 }),
    ).rejects.toThrow(/closed/);
    model.dispose();
  });

  it("leaks no tensors across many batched calls, including aborted and failed ones", async () => {
    const model = tinyModel(30, CFG, 0.1);
    const batcher = new SampleBatcher({ maxRows: 8 });
    const burst = (k: number) =>
      Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          batcher.sample(model, tok, {
            promptIds: encodePrompt(tok, "leak?".slice(0, 1 + (i % 5))),
            n: 1 + (i % 3),
            temperature: 1,
            topP: 0.9,
            maxNewTokens: 3 + (i % 7),
            seed: k * 100 + i,
          }),
        ),
      );
    // requests that end early: one aborted mid-flight, one whose onToken throws
    const unlucky = async (k: number) => {
      const ac = new AbortController();
      const o = { promptIds: encodePrompt(tok, "unlucky"), n: 2, temperature: 1, maxNewTokens: 20, seed: k };
      await Promise.all([
        batcher.sample(model, tok, {
          ...o,
          signal: ac.signal,
          onToken: (_i, _id, text) => {
            if (text.length === 3) ac.abort();
          },
        }),
        batcher
          .sample(model, tok, {
            ...o,
            onToken: (_i, _id, text) => {
              if (text.length === 3) throw new Error("gone");
            },
          })
          .catch(() => null),
      ]);
    };
    await Promise.all([burst(0), unlucky(0)]);
    // the model's cached W^T copies are bounded, deliberate state: drop them before counting
    const count = () => (model.invalidateTransposes(), tf.memory().numTensors);
    const before = count();
    for (let k = 1; k <= 10; k++) await Promise.all([burst(k), unlucky(k)]);
    expect(count()).toBe(before);
    await batcher.close();
    model.dispose();
  });
});
