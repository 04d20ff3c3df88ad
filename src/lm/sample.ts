// Autoregressive sampling with a KV cache. The prompt is prefilled once and its cache copied
// to all n rows, then the n completions advance together, one token per step, as one batch.
// Linear layers run as tfjs matMuls; attention over the cache is a short JS loop (a single
// query row per head), which beats launching tfjs kernels for such small work.
import * as tf from "@tensorflow/tfjs-core";
import type { GPT } from "./model.ts";
import { makeRng } from "./model.ts";
import { gelu, layerNorm, linear, mm } from "./ops.ts";
import type { Tokenizer } from "./tokenizer.ts";

export interface SampleOptions {
  promptIds: number[];
  n: number;
  temperature: number;
  topK?: number;
  topP?: number;
  maxNewTokens: number;
  stopStrings?: string[];
  seed: number;
  onToken?: (index: number, tokenId: number, textSoFar: string) => void;
  signal?: AbortSignal;
}

export interface SampledCompletion {
  /** Every generated id, including EOS or the tokens that completed a stop string. */
  ids: number[];
  /** Decoded completion, cut before a stop string when one was produced. */
  text: string;
  /** log π(ids | prompt) at temperature 1, unfiltered: the sum of stepLogprobs. */
  logprob: number;
  stepLogprobs: number[];
  finishReason: "eos" | "stop" | "length" | "aborted";
}

interface Cache {
  k: Float32Array[]; // per layer: (rows, nPositions, C)
  v: Float32Array[];
}

/** Runs `rows` × `len` new tokens through the blocks, updating the cache; returns final hidden (rows*len, C). */
function step(model: GPT, cache: Cache, tokens: number[][], start: number): tf.Tensor2D {
  const c = model.config;
  const C = c.nEmbd, H = c.nHead, hd = C / H, P = c.nPositions;
  const rows = tokens.length, len = tokens[0].length;
  const scale = 1 / Math.sqrt(hd);
  const W = (n: string) => model.getParam(n);
  const ids = tf.tensor1d(tokens.flat(), "int32");
  const pos = tf.tensor1d(Array.from({ length: rows * len }, (_, i) => start + (i % len)), "int32");
  let x = tf.add(tf.gather(W("transformer.wte.weight"), ids), tf.gather(W("transformer.wpe.weight"), pos)) as tf.Tensor2D; // (rows*len, C)
  for (let l = 0; l < c.nLayer; l++) {
    const p = `transformer.h.${l}.`;
    const h1 = layerNorm(x, W(p + "ln_1.weight"), W(p + "ln_1.bias"), c.layerNormEpsilon).y;
    const qkv = linear(h1, W(p + "attn.c_attn.weight"), W(p + "attn.c_attn.bias")).dataSync() as Float32Array; // (rows*len, 3C)
    const K = cache.k[l], V = cache.v[l];
    for (let r = 0; r < rows; r++) {
      for (let t = 0; t < len; t++) {
        const src = (r * len + t) * 3 * C;
        const dst = (r * P + start + t) * C;
        K.set(qkv.subarray(src + C, src + 2 * C), dst);
        V.set(qkv.subarray(src + 2 * C, src + 3 * C), dst);
      }
    }
    const att = new Float32Array(rows * len * C);
    const scores = new Float64Array(start + len);
    for (let r = 0; r < rows; r++) {
      for (let t = 0; t < len; t++) {
        const qo = (r * len + t) * 3 * C;
        const upto = start + t; // attends to positions 0..upto
        for (let h = 0; h < H; h++) {
          let mx = -Infinity;
          for (let j = 0; j <= upto; j++) {
            const ko = (r * P + j) * C + h * hd;
            let s = 0;
            for (let e = 0; e < hd; e++) s += qkv[qo + h * hd + e] * K[ko + e];
            s *= scale;
            scores[j] = s;
            if (s > mx) mx = s;
          }
          let sum = 0;
          for (let j = 0; j <= upto; j++) sum += scores[j] = Math.exp(scores[j] - mx);
          const oo = (r * len + t) * C + h * hd;
          for (let j = 0; j <= upto; j++) {
            const w = scores[j] / sum;
            const vo = (r * P + j) * C + h * hd;
            for (let e = 0; e < hd; e++) att[oo + e] += w * V[vo + e];
          }
        }
      }
    }
    const a = tf.tensor2d(att, [rows * len, C]);
    x = tf.add(x, linear(a, W(p + "attn.c_proj.weight"), W(p + "attn.c_proj.bias"))) as tf.Tensor2D;
    const h2 = layerNorm(x, W(p + "ln_2.weight"), W(p + "ln_2.bias"), c.layerNormEpsilon).y;
    x = tf.add(x, linear(gelu(linear(h2, W(p + "mlp.c_fc.weight"), W(p + "mlp.c_fc.bias"))), W(p + "mlp.c_proj.weight"), W(p + "mlp.c_proj.bias"))) as tf.Tensor2D;
  }
  return layerNorm(x, W("transformer.ln_f.weight"), W("transformer.ln_f.bias"), c.layerNormEpsilon).y;
}

/** Logits (rows, V) for the given hidden rows. */
function headLogits(model: GPT, h: tf.Tensor2D): Float32Array {
  return mm(h, model.weightT("transformer.wte.weight")).dataSync() as Float32Array;
}

/** Chooses a token from one row of logits; returns it with its temperature-1 log-prob. */
export function pickToken(logits: Float32Array, opts: { temperature: number; topK?: number; topP?: number }, rand: () => number): { id: number; logprob: number } {
  const V = logits.length;
  let mx = -Infinity, arg = 0;
  for (let i = 0; i < V; i++) if (logits[i] > mx) { mx = logits[i]; arg = i; }
  let z = 0;
  for (let i = 0; i < V; i++) z += Math.exp(logits[i] - mx);
  const lse = mx + Math.log(z);
  if (opts.temperature === 0) return { id: arg, logprob: logits[arg] - lse };
  const tau = opts.temperature;
  let order = Array.from({ length: V }, (_, i) => i);
  if ((opts.topK && opts.topK > 0 && opts.topK < V) || (opts.topP !== undefined && opts.topP < 1)) {
    order.sort((a, b) => logits[b] - logits[a]);
    if (opts.topK && opts.topK > 0) order = order.slice(0, opts.topK);
  }
  const w = order.map((i) => Math.exp((logits[i] - mx) / tau));
  if (opts.topP !== undefined && opts.topP < 1) {
    const total = w.reduce((a, b) => a + b, 0);
    let acc = 0, keep = 0;
    while (keep < w.length) {
      acc += w[keep++] / total;
      if (acc >= opts.topP) break;
    }
    order = order.slice(0, keep);
    w.length = keep;
  }
  const total = w.reduce((a, b) => a + b, 0);
  let u = rand() * total;
  let pick = order[order.length - 1];
  for (let j = 0; j < order.length; j++) {
    u -= w[j];
    if (u < 0) { pick = order[j]; break; }
  }
  return { id: pick, logprob: logits[pick] - lse };
}

function validate(model: GPT, tok: Tokenizer, o: SampleOptions): void {
  if (!Number.isInteger(o.n) || o.n < 1) throw new Error(`sample: n must be a positive integer, got ${o.n}`);
  if (!(o.temperature >= 0)) throw new Error(`sample: temperature must be >= 0, got ${o.temperature}`);
  if (o.topK !== undefined && (!Number.isInteger(o.topK) || o.topK < 0)) throw new Error(`sample: topK must be a non-negative integer, got ${o.topK}`);
  if (o.topP !== undefined && !(o.topP > 0 && o.topP <= 1)) throw new Error(`sample: topP must be in (0, 1], got ${o.topP}`);
  if (!Number.isInteger(o.maxNewTokens) || o.maxNewTokens < 0) throw new Error(`sample: maxNewTokens must be a non-negative integer, got ${o.maxNewTokens}`);
  if (o.promptIds.length < 1) throw new Error("sample: promptIds is empty (start it with BOS; use encodePrompt)");
  if (o.promptIds.length > model.config.nPositions) throw new Error(`sample: prompt has ${o.promptIds.length} tokens; the model's context is ${model.config.nPositions}`);
  for (const id of o.promptIds) if (!Number.isInteger(id) || id < 0 || id >= model.config.vocabSize) throw new Error(`sample: prompt token ${id} is outside the vocabulary`);
  if (tok.vocabSize > model.config.vocabSize) throw new Error(`sample: tokenizer "${tok.name}" does not fit the model's vocabulary`);
}

/** n completions of one prompt, sampled as one batch with a KV cache. Yields to the event loop between steps. */
export async function sample(model: GPT, tok: Tokenizer, opts: SampleOptions): Promise<SampledCompletion[]> {
  validate(model, tok, opts);
  const c = model.config;
  const n = opts.n, P = c.nPositions, C = c.nEmbd, V = c.vocabSize;
  const rand = makeRng(opts.seed);
  const stops = (opts.stopStrings ?? []).filter((s) => s.length > 0);
  const out: SampledCompletion[] = Array.from({ length: n }, () => ({ ids: [], text: "", logprob: 0, stepLogprobs: [], finishReason: "length" as const }));
  const done = new Array<boolean>(n).fill(false);
  const budget = Math.min(opts.maxNewTokens, P - opts.promptIds.length + 1);
  if (budget <= 0) return out;

  // prefill the prompt once, then give every row its own copy of the cache
  const one: Cache = { k: [], v: [] };
  for (let l = 0; l < c.nLayer; l++) {
    one.k.push(new Float32Array(P * C));
    one.v.push(new Float32Array(P * C));
  }
  const T0 = opts.promptIds.length;
  // logits leave tidy scopes through closures: returning a typed array makes tidy walk every element
  let logits: Float32Array = new Float32Array(0);
  tf.tidy(() => {
    const h = step(model, one, [opts.promptIds], 0);
    logits = headLogits(model, tf.slice(h, [T0 - 1, 0], [1, C]) as tf.Tensor2D);
  });
  const cache: Cache = { k: [], v: [] };
  for (let l = 0; l < c.nLayer; l++) {
    const k = new Float32Array(n * P * C), v = new Float32Array(n * P * C);
    for (let r = 0; r < n; r++) {
      k.set(one.k[l].subarray(0, T0 * C), r * P * C);
      v.set(one.v[l].subarray(0, T0 * C), r * P * C);
    }
    cache.k.push(k);
    cache.v.push(v);
  }
  let rowLogits = Array.from({ length: n }, () => logits);

  for (let s = 0; s < budget; s++) {
    if (opts.signal?.aborted) {
      for (let r = 0; r < n; r++) if (!done[r]) { done[r] = true; out[r].finishReason = "aborted"; }
      break;
    }
    const next: number[] = [];
    for (let r = 0; r < n; r++) {
      if (done[r]) { next.push(tok.pad < V ? tok.pad : 0); continue; }
      const { id, logprob } = pickToken(rowLogits[r], opts, rand);
      const o = out[r];
      o.ids.push(id);
      o.stepLogprobs.push(logprob);
      o.logprob += logprob;
      o.text = tok.decode(o.ids);
      if (id === tok.eos) { done[r] = true; o.finishReason = "eos"; }
      else {
        const hit = stops.map((st) => o.text.indexOf(st)).filter((i) => i >= 0);
        if (hit.length) { done[r] = true; o.finishReason = "stop"; o.text = o.text.slice(0, Math.min(...hit)); }
      }
      opts.onToken?.(r, id, o.text);
      next.push(id);
    }
    if (done.every(Boolean) || s === budget - 1) break;
    const pos = T0 + s; // position of the token just chosen
    if (pos >= P) break;
    tf.tidy(() => {
      logits = headLogits(model, step(model, cache, next.map((id) => [id]), pos));
    });
    rowLogits = Array.from({ length: n }, (_, r) => logits.subarray(r * V, (r + 1) * V));
    await new Promise<void>((res) => setImmediate(res));
  }
  return out;
}
