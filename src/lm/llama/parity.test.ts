// Llama-family models against a slow reference written here from the published maths (float64,
// per position, per head, RoPE angles computed explicitly), for every supported variant, from
// checkpoints these tests write in Hugging Face layout.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../backend.ts";
import { SampleBatcher } from "../batch.ts";
import { loadCheckpoint } from "../checkpoint.ts";
import { nextTokenLogprobs, scoreCompletions } from "../forward.ts";
import { makeRng } from "../model.ts";
import { sample } from "../sample.ts";
import { encodePrompt } from "../tokenizer.ts";
import { type DiskDtype, tinyHFConfig, type WrittenModel, writeTinyHF } from "./fixtures.ts";

let root: string;
beforeAll(async () => {
  await initBackend();
  root = await mkdtemp(path.join(tmpdir(), "llama-parity-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** log-softmax rows (T, V) of the next token after each position, computed naively in float64. */
function reference(m: WrittenModel, ids: number[]): number[][] {
  const j = m.config as Record<string, any>;
  const W = (n: string) => m.weights.get(n)!.values;
  const has = (n: string) => m.weights.has(n);
  const C = j.hidden_size,
    H = j.num_attention_heads,
    KV = j.num_key_value_heads ?? H;
  const d = j.head_dim ?? C / H,
    eps = j.rms_norm_eps,
    T = ids.length;
  const half = d / 2;
  const freq: number[] = [];
  for (let i = 0; i < half; i++) {
    let f = j.rope_theta ** (-(2 * i) / d);
    const rs = j.rope_scaling;
    if (rs && rs.rope_type === "llama3") {
      const old = rs.original_max_position_embeddings;
      const wl = (2 * Math.PI) / f;
      if (wl > old / rs.low_freq_factor) f = f / rs.factor;
      else if (wl >= old / rs.high_freq_factor) {
        const s = (old / wl - rs.low_freq_factor) / (rs.high_freq_factor - rs.low_freq_factor);
        f = (1 - s) * (f / rs.factor) + s * f;
      }
    }
    freq.push(f);
  }
  const linear = (x: number[], w: Float32Array, out: number, b?: Float32Array) => {
    const y: number[] = [];
    for (let o = 0; o < out; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < x.length; i++) s += w[o * x.length + i] * x[i];
      y.push(s);
    }
    return y;
  };
  const rms = (x: number[], w: Float32Array) => {
    const ms = x.reduce((a, v) => a + v * v, 0) / x.length;
    return x.map((v, i) => (v / Math.sqrt(ms + eps)) * w[i]);
  };
  const rot = (v: number[], pos: number) => {
    const out = v.slice();
    for (let i = 0; i < half; i++) {
      const a = pos * freq[i];
      out[i] = v[i] * Math.cos(a) - v[i + half] * Math.sin(a);
      out[i + half] = v[i + half] * Math.cos(a) + v[i] * Math.sin(a);
    }
    return out;
  };
  let x = ids.map((id) => Array.from(W("model.embed_tokens.weight").subarray(id * C, (id + 1) * C)));
  for (let l = 0; l < j.num_hidden_layers; l++) {
    const p = `model.layers.${l}.`;
    const bias = (n: string) => (has(p + n) ? W(p + n) : undefined);
    const qs: number[][][] = [],
      ks: number[][][] = [],
      vs: number[][][] = [];
    for (let t = 0; t < T; t++) {
      const h = rms(x[t], W(`${p}input_layernorm.weight`));
      const q = linear(h, W(`${p}self_attn.q_proj.weight`), H * d, bias("self_attn.q_proj.bias"));
      const k = linear(h, W(`${p}self_attn.k_proj.weight`), KV * d, bias("self_attn.k_proj.bias"));
      const v = linear(h, W(`${p}self_attn.v_proj.weight`), KV * d, bias("self_attn.v_proj.bias"));
      const heads = (a: number[], n: number, norm?: string) =>
        Array.from({ length: n }, (_, hh) => {
          let vh = a.slice(hh * d, (hh + 1) * d);
          if (norm && has(p + norm)) vh = rms(vh, W(p + norm));
          return vh;
        });
      qs.push(heads(q, H, "self_attn.q_norm.weight").map((vh) => rot(vh, t)));
      ks.push(heads(k, KV, "self_attn.k_norm.weight").map((vh) => rot(vh, t)));
      vs.push(heads(v, KV));
    }
    const next: number[][] = [];
    for (let t = 0; t < T; t++) {
      const att: number[] = [];
      for (let hh = 0; hh < H; hh++) {
        const g = Math.floor(hh / (H / KV));
        const sc: number[] = [];
        for (let s = 0; s <= t; s++) sc.push(qs[t][hh].reduce((a, qv, e) => a + qv * ks[s][g][e], 0) / Math.sqrt(d));
        const mx = Math.max(...sc);
        const ex = sc.map((z) => Math.exp(z - mx));
        const z = ex.reduce((a, b) => a + b, 0);
        for (let e = 0; e < d; e++) att.push(ex.reduce((a, pw, s) => a + (pw / z) * vs[s][g][e], 0));
      }
      const x1 = x[t].map((v, i) => v + linear(att, W(`${p}self_attn.o_proj.weight`), C)[i]);
      const h2 = rms(x1, W(`${p}post_attention_layernorm.weight`));
      const I = j.intermediate_size;
      const g = linear(h2, W(`${p}mlp.gate_proj.weight`), I);
      const u = linear(h2, W(`${p}mlp.up_proj.weight`), I);
      const a = g.map((gv, i) => (gv / (1 + Math.exp(-gv))) * u[i]);
      const dn = linear(a, W(`${p}mlp.down_proj.weight`), C);
      next.push(x1.map((v, i) => v + dn[i]));
    }
    x = next;
  }
  const head = has("lm_head.weight") ? W("lm_head.weight") : W("model.embed_tokens.weight");
  return x.map((xt) => {
    const logits = linear(rms(xt, W("model.norm.weight")), head, j.vocab_size);
    const mx = Math.max(...logits);
    const lse = mx + Math.log(logits.reduce((a, z) => a + Math.exp(z - mx), 0));
    return logits.map((z) => z - lse);
  });
}

const variants: { name: string; config: Record<string, unknown>; dtype: DiskDtype; shards: number }[] = [
  { name: "llama, GQA, untied head, F32", config: tinyHFConfig("llama"), dtype: "F32", shards: 1 },
  {
    name: "llama, tied head, BF16, 3 shards",
    config: tinyHFConfig("llama", { tie_word_embeddings: true, num_key_value_heads: 4 }),
    dtype: "BF16",
    shards: 3,
  },
  { name: "mistral (window longer than the context), F16", config: tinyHFConfig("mistral"), dtype: "F16", shards: 1 },
  { name: "qwen2, q/k/v biases, 2 shards", config: tinyHFConfig("qwen2", { num_key_value_heads: 1 }), dtype: "F32", shards: 2 },
  {
    name: "qwen3, q/k norm, explicit head_dim, tied",
    config: tinyHFConfig("qwen3", { tie_word_embeddings: true }),
    dtype: "BF16",
    shards: 1,
  },
  {
    name: "llama3 rope_scaling, explicit head_dim",
    config: tinyHFConfig("llama", {
      head_dim: 8,
      rope_theta: 500000,
      rope_scaling: { rope_type: "llama3", factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 },
    }),
    dtype: "F32",
    shards: 1,
  },
];

describe("Llama-family log-probs match the reference implementation", () => {
  variants.forEach((v, i) => {
    it(v.name, async () => {
      const dir = path.join(root, `v${i}`);
      const written = await writeTinyHF(dir, v.config, { seed: 10 + i, dtype: v.dtype, shards: v.shards });
      const { model, tokenizer } = await loadCheckpoint(dir);
      try {
        expect(model.arch).toBe("llama");
        const rand = makeRng(100 + i);
        const promptIds = encodePrompt(tokenizer, "hi there");
        const completionIds = Array.from({ length: 9 }, () => Math.floor(rand() * 259));
        const ref = reference(written, [...promptIds, ...completionIds]);
        const { perToken } = scoreCompletions(model, [{ promptIds, completionIds }]);
        const rows = nextTokenLogprobs(model, [{ promptIds, completionIds }])[0];
        const V = model.config.vocabSize;
        let worst = 0;
        completionIds.forEach((tok, t) => {
          const r = ref[promptIds.length - 1 + t];
          worst = Math.max(worst, Math.abs(perToken[0][t] - r[tok]));
          for (let x = 0; x < V; x++) worst = Math.max(worst, Math.abs(rows[t * V + x] - r[x]));
        });
        expect(worst).toBeLessThan(1e-4);
        // the logits are not trivial: the model is far from uniform
        const spread = Math.max(...ref[promptIds.length]) - Math.min(...ref[promptIds.length]);
        expect(spread).toBeGreaterThan(0.5);
      } finally {
        model.dispose();
      }
    });
  });
});

describe("sampling a Llama-family model", () => {
  it("a completion's log-prob is the sum of its steps and equals the full-sequence score; no tensors leak", async () => {
    const dir = path.join(root, "sample");
    await writeTinyHF(dir, tinyHFConfig("qwen3", { num_hidden_layers: 3 }), { seed: 5 });
    const { model, tokenizer } = await loadCheckpoint(dir);
    try {
      const promptIds = encodePrompt(tokenizer, "Write a word");
      const opts = { promptIds, n: 3, temperature: 1, maxNewTokens: 14, seed: 9 };
      await sample(model, tokenizer, opts); // warm-up (cached transposes, host copies)
      const before = tf.memory().numTensors;
      const out = await sample(model, tokenizer, opts);
      expect(tf.memory().numTensors).toBe(before);
      for (const c of out) {
        expect(c.ids.length).toBeGreaterThan(0);
        expect(c.logprob).toBeCloseTo(
          c.stepLogprobs.reduce((a, b) => a + b, 0),
          9,
        );
        const scored = scoreCompletions(model, [{ promptIds, completionIds: c.ids }]);
        expect(Math.abs(scored.sum[0] - c.logprob)).toBeLessThan(1e-4);
        scored.perToken[0].forEach((lp, t) => expect(Math.abs(lp - c.stepLogprobs[t])).toBeLessThan(1e-4));
        if (c.finishReason === "eos") expect([256, 258]).toContain(c.ids.at(-1));
      }
      // concurrent requests through the batcher give the same results as one at a time
      const batcher = new SampleBatcher();
      const other = { ...opts, promptIds: encodePrompt(tokenizer, "Another, longer prompt here"), seed: 3, n: 2 };
      const [a, b] = await Promise.all([batcher.sample(model, tokenizer, opts), batcher.sample(model, tokenizer, other)]);
      expect(a.map((c) => c.ids)).toEqual(out.map((c) => c.ids));
      const alone = await sample(model, tokenizer, other);
      expect(b.map((c) => c.ids)).toEqual(alone.map((c) => c.ids));
    } finally {
      model.dispose();
    }
  });

  it("stops at every configured stop token (generation_config eos_token_id list)", async () => {
    const dir = path.join(root, "stops");
    await writeTinyHF(dir, tinyHFConfig("llama"), { seed: 6 });
    const { model, tokenizer } = await loadCheckpoint(dir);
    try {
      expect(new Set(tokenizer.stopIds)).toEqual(new Set([256, 258]));
      // any id in stopIds ends a row, not only eos: stop on whatever greedy decoding picks second
      const promptIds = encodePrompt(tokenizer, "x");
      const free = await sample(model, { ...tokenizer, stopIds: [] }, { promptIds, n: 1, temperature: 0, maxNewTokens: 4, seed: 1 });
      expect(free[0].ids).toHaveLength(4);
      const stopped = await sample(
        model,
        { ...tokenizer, stopIds: [free[0].ids[1]] },
        { promptIds, n: 1, temperature: 0, maxNewTokens: 4, seed: 1 },
      );
      expect(stopped[0].finishReason).toBe("eos");
      expect(stopped[0].ids).toEqual(free[0].ids.slice(0, free[0].ids.indexOf(free[0].ids[1]) + 1));
    } finally {
      model.dispose();
    }
  });
});
