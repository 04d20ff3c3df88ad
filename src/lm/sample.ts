// Autoregressive sampling with a KV cache. The prompt is prefilled once and its cache copied
// to all n rows, then the n completions advance together, one token per step, as one batch.
// Only the matMuls run as tfjs kernels; LayerNorm, GELU, residuals and attention over the
// cache (one query row per head) are short JS loops, which beat launching tfjs kernels for
// such small work (per-kernel overhead dominated the decode step).
import * as tf from "@tensorflow/tfjs-core";
import type { GPT } from "./model.ts";
import { makeRng } from "./model.ts";
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

/** Small parameters as JS arrays: the decode loop does its elementwise work in JS. */
interface HostParams {
  version: number;
  wte: Float32Array;
  wpe: Float32Array;
  vec: Map<string, Float32Array>; // LayerNorm weights/biases and linear biases
}
const hostCache = new WeakMap<GPT, HostParams>();

function hostParams(model: GPT): HostParams {
  const cached = hostCache.get(model);
  if (cached && cached.version === model.version) return cached;
  const read = (n: string) => Float32Array.from(model.getParam(n).dataSync() as Float32Array);
  const vec = new Map<string, Float32Array>();
  for (const n of model.paramNames()) if (model.getParam(n).rank === 1) vec.set(n, read(n));
  const hp = { version: model.version, wte: read("transformer.wte.weight"), wpe: read("transformer.wpe.weight"), vec };
  hostCache.set(model, hp);
  return hp;
}

function layerNormJS(x: Float32Array, rows: number, C: number, g: Float32Array, b: Float32Array, eps: number): Float32Array {
  const y = new Float32Array(rows * C);
  for (let r = 0; r < rows; r++) {
    const o = r * C;
    let mean = 0;
    for (let j = 0; j < C; j++) mean += x[o + j];
    mean /= C;
    let v = 0;
    for (let j = 0; j < C; j++) v += (x[o + j] - mean) ** 2;
    const rstd = 1 / Math.sqrt(v / C + eps);
    for (let j = 0; j < C; j++) y[o + j] = (x[o + j] - mean) * rstd * g[j] + b[j];
  }
  return y;
}

/** x (rows, in) @ W (in, out) + bias, with only the matMul on the tfjs backend. */
function linearJS(x: Float32Array, rows: number, w: tf.Tensor, bias: Float32Array): Float32Array {
  const [inDim, out] = w.shape;
  const xt = tf.tensor2d(x, [rows, inDim]);
  const yt = tf.matMul(xt, w as tf.Tensor2D);
  const y = yt.dataSync() as Float32Array;
  xt.dispose();
  yt.dispose();
  for (let r = 0; r < rows; r++) for (let j = 0; j < out; j++) y[r * out + j] += bias[j];
  return y;
}

const GELU_C2 = 2 * Math.sqrt(2 / Math.PI);

/** Runs `rows` × `len` new tokens through the blocks, updating the cache; returns the final hidden rows (rows*len, C). */
function step(model: GPT, cache: Cache, tokens: number[][], start: number): Float32Array {
  const c = model.config;
  const C = c.nEmbd, H = c.nHead, hd = C / H, P = c.nPositions, eps = c.layerNormEpsilon;
  const rows = tokens.length, len = tokens[0].length, N = rows * len;
  const scale = 1 / Math.sqrt(hd);
  const hp = hostParams(model);
  const vec = (n: string) => hp.vec.get(n)!;
  const W = (n: string) => model.getParam(n);
  const x = new Float32Array(N * C); // (rows*len, C)
  for (let r = 0; r < rows; r++) {
    for (let t = 0; t < len; t++) {
      const o = (r * len + t) * C, te = tokens[r][t] * C, pe = (start + t) * C;
      for (let j = 0; j < C; j++) x[o + j] = hp.wte[te + j] + hp.wpe[pe + j];
    }
  }
  for (let l = 0; l < c.nLayer; l++) {
    const p = `transformer.h.${l}.`;
    const h1 = layerNormJS(x, N, C, vec(p + "ln_1.weight"), vec(p + "ln_1.bias"), eps);
    const qkv = linearJS(h1, N, W(p + "attn.c_attn.weight"), vec(p + "attn.c_attn.bias")); // (N, 3C)
    const K = cache.k[l], V = cache.v[l];
    for (let r = 0; r < rows; r++) {
      for (let t = 0; t < len; t++) {
        const src = (r * len + t) * 3 * C;
        const dst = (r * P + start + t) * C;
        K.set(qkv.subarray(src + C, src + 2 * C), dst);
        V.set(qkv.subarray(src + 2 * C, src + 3 * C), dst);
      }
    }
    const att = new Float32Array(N * C);
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
    const a = linearJS(att, N, W(p + "attn.c_proj.weight"), vec(p + "attn.c_proj.bias"));
    for (let i = 0; i < x.length; i++) x[i] += a[i];
    const h2 = layerNormJS(x, N, C, vec(p + "ln_2.weight"), vec(p + "ln_2.bias"), eps);
    const u = linearJS(h2, N, W(p + "mlp.c_fc.weight"), vec(p + "mlp.c_fc.bias")); // (N, 4C)
    for (let i = 0; i < u.length; i++) {
      const z = u[i];
      u[i] = z / (1 + Math.exp(-GELU_C2 * (z + 0.044715 * z * z * z))); // gelu_new as u·σ(2z)
    }
    const m = linearJS(u, N, W(p + "mlp.c_proj.weight"), vec(p + "mlp.c_proj.bias"));
    for (let i = 0; i < x.length; i++) x[i] += m[i];
  }
  return layerNormJS(x, N, C, vec("transformer.ln_f.weight"), vec("transformer.ln_f.bias"), eps);
}

/** Logits (rows, V) for hidden rows (rows, C), through the tied embedding. */
function headLogits(model: GPT, h: Float32Array, rows: number): Float32Array {
  const wT = model.weightT("transformer.wte.weight");
  const ht = tf.tensor2d(h, [rows, model.config.nEmbd]);
  const lt = tf.matMul(ht, wT);
  const out = lt.dataSync() as Float32Array;
  ht.dispose();
  lt.dispose();
  return out;
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
  const hPrompt = step(model, one, [opts.promptIds], 0);
  let logits = headLogits(model, hPrompt.subarray((T0 - 1) * C, T0 * C), 1);
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
    logits = headLogits(model, step(model, cache, next.map((id) => [id]), pos), n);
    rowLogits = Array.from({ length: n }, (_, r) => logits.subarray(r * V, (r + 1) * V));
    await new Promise<void>((res) => setImmediate(res));
  }
  return out;
}
