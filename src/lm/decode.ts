// The decode step with a KV cache. `segmentLogits` runs any set of token segments through the
// blocks at once: each segment belongs to one row with its own KV cache and its own position, so
// a prompt prefill and the next token of many rows at different positions share the same
// matMuls. GPT-2 is stepped here; a Llama-family model goes to llama/decode.ts, which keeps the
// same contract. sample.ts and batch.ts drive the step.
// Only the matMuls run as tfjs kernels; LayerNorm, residuals and attention over the cache are
// short loops on typed arrays, which beat launching tfjs kernels for such small work, and the
// hottest of them (attention's inner loops, softmax's and GELU's exp) run in a small
// WebAssembly SIMD kernel (simd-kernel.ts).
import type * as tf from "@tensorflow/tfjs-core";
import { type CausalLM, kvWidth } from "./causal.ts";
import { llamaSegmentLogits } from "./llama/decode.ts";
import type { GPT } from "./model.ts";
import { matMulRead } from "./ops.ts";
import { getKernel, kernelFloats } from "./simd-kernel.ts";

/** One row's keys and values: per layer (capacity, W), position p at [p·W, (p+1)·W), W = kvWidth(model). */
export interface KVCache {
  k: Float32Array[];
  v: Float32Array[];
}

export function newCache(model: CausalLM, capacity: number): KVCache {
  const nLayer = model.config.nLayer,
    width = kvWidth(model);
  const cache: KVCache = { k: [], v: [] };
  for (let l = 0; l < nLayer; l++) {
    cache.k.push(new Float32Array(capacity * width));
    cache.v.push(new Float32Array(capacity * width));
  }
  return cache;
}

/** `tokens` enter `cache` at positions start, start+1, …; the row has positions 0..start-1 cached already. */
export interface Segment {
  cache: KVCache;
  start: number;
  tokens: number[];
}

/**
 * Where each segment's tokens sit in a step's (N, ·) activations: token i of segment s is row
 * first[s] + i. Refuses an empty segment or one that runs past the model's context; maxPos is
 * the longest row any segment reaches (the attention scratch size).
 */
export function segmentRows(segments: Segment[], nPositions: number): { first: number[]; N: number; maxPos: number } {
  const first: number[] = [];
  let N = 0,
    maxPos = 0;
  for (const sg of segments) {
    if (sg.tokens.length === 0) throw new Error("segmentLogits: a segment has no tokens");
    if (sg.start + sg.tokens.length > nPositions)
      throw new Error(`segmentLogits: position ${sg.start + sg.tokens.length - 1} is outside the context of ${nPositions}`);
    first.push(N);
    N += sg.tokens.length;
    maxPos = Math.max(maxPos, sg.start + sg.tokens.length);
  }
  return { first, N, maxPos };
}

/** Small parameters as JS arrays: the decode step does its elementwise work in JS. */
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

/** x (rows, in) @ W (in, out) + bias, with only the matMul on the tfjs backend (NN layout: its fast path). */
function linearJS(x: Float32Array, rows: number, w: tf.Tensor, bias: Float32Array): Float32Array {
  const [, out] = w.shape;
  const y = matMulRead(x, rows, w);
  for (let r = 0; r < rows; r++) for (let j = 0; j < out; j++) y[r * out + j] += bias[j];
  return y;
}

/**
 * One query against its row's cache, all heads: out[oo + h·hd + e] = Σ_j softmax_j(q_h·k_jh·scale) v_jh[e]
 * over positions j = 0..upto. The query is pre-scaled into float64 scratch `q`; scores and the
 * weighted sum accumulate in float64. Four independent accumulators: V8 does not vectorise, and
 * breaking the dependency chain measured ~1.4× on the decode shape.
 */
function attendOne(
  qkv: Float32Array,
  qo: number,
  K: Float32Array,
  V: Float32Array,
  upto: number,
  out: Float32Array,
  oo: number,
  C: number,
  H: number,
  q: Float64Array,
  scores: Float64Array,
  acc: Float64Array,
): void {
  const hd = C / H,
    hd4 = hd - (hd % 4),
    scale = 1 / Math.sqrt(hd);
  for (let i = 0; i < C; i++) q[i] = qkv[qo + i] * scale;
  for (let h = 0; h < H; h++) {
    const qh = h * hd;
    let mx = -Infinity;
    for (let j = 0, ko = qh; j <= upto; j++, ko += C) {
      let s0 = 0,
        s1 = 0,
        s2 = 0,
        s3 = 0,
        e = 0;
      for (; e < hd4; e += 4) {
        s0 += q[qh + e] * K[ko + e];
        s1 += q[qh + e + 1] * K[ko + e + 1];
        s2 += q[qh + e + 2] * K[ko + e + 2];
        s3 += q[qh + e + 3] * K[ko + e + 3];
      }
      for (; e < hd; e++) s0 += q[qh + e] * K[ko + e];
      const s = s0 + s1 + (s2 + s3);
      scores[j] = s;
      if (s > mx) mx = s;
    }
    let sum = 0;
    for (let j = 0; j <= upto; j++) sum += scores[j] = Math.exp(scores[j] - mx);
    acc.fill(0, 0, hd);
    for (let j = 0, vo = qh; j <= upto; j++, vo += C) {
      const w = scores[j];
      let e = 0;
      for (; e < hd4; e += 4) {
        acc[e] += w * V[vo + e];
        acc[e + 1] += w * V[vo + e + 1];
        acc[e + 2] += w * V[vo + e + 2];
        acc[e + 3] += w * V[vo + e + 3];
      }
      for (; e < hd; e++) acc[e] += w * V[vo + e];
    }
    const inv = 1 / sum;
    for (let e = 0; e < hd; e++) out[oo + qh + e] = acc[e] * inv;
  }
}

const GELU_C2 = 2 * Math.sqrt(2 / Math.PI);

/** gelu_new in place, as u·σ(2z). */
function geluInPlace(u: Float32Array): void {
  const kernel = u.length % 4 === 0 ? getKernel() : null;
  if (kernel) {
    kernelFloats(kernel, u.length).set(u);
    kernel.gelu(0, 4 * u.length);
    u.set(kernel.f32.subarray(0, u.length));
    return;
  }
  for (let i = 0; i < u.length; i++) {
    const z = u[i];
    u[i] = z / (1 + Math.exp(-GELU_C2 * (z + 0.044715 * z * z * z)));
  }
}

/**
 * Attention for every token of one segment, against its row's cache (which already holds the
 * segment's own keys and values): token t attends to positions 0..start+t.
 * qkv rows (first + t) hold q | k | v; outputs go to att rows (first + t).
 */
function attendSegment(
  qkv: Float32Array,
  first: number,
  sg: Segment,
  l: number,
  att: Float32Array,
  C: number,
  H: number,
  js: JsScratch,
): void {
  const hd = C / H,
    scale = 1 / Math.sqrt(hd),
    len = sg.tokens.length;
  const K = sg.cache.k[l],
    V = sg.cache.v[l];
  const kernel = hd % 4 === 0 ? getKernel() : null;
  if (!kernel) {
    for (let t = 0; t < len; t++)
      attendOne(qkv, (first + t) * 3 * C, K, V, sg.start + t, att, (first + t) * C, C, H, js.q, js.scores, js.acc);
    return;
  }
  // kernel memory (floats): keys (n, C) | values (n, C) | query (C) | scores (n, padded to 4) | acc (hd)
  const n = sg.start + len;
  const vOff = n * C,
    qOff = 2 * n * C,
    sOff = qOff + C,
    aOff = sOff + Math.ceil(n / 4) * 4;
  const f = kernelFloats(kernel, aOff + hd);
  f.set(K.subarray(0, n * C), 0);
  f.set(V.subarray(0, n * C), vOff);
  for (let t = 0; t < len; t++) {
    const qo = (first + t) * 3 * C,
      oo = (first + t) * C,
      m = sg.start + t + 1; // attends to m positions
    for (let i = 0; i < C; i++) f[qOff + i] = qkv[qo + i] * scale;
    for (let h = 0; h < H; h++) {
      kernel.dots(4 * (qOff + h * hd), 4 * h * hd, m, 4 * C, 4 * hd, 4 * sOff);
      let mx = -Infinity;
      for (let j = 0; j < m; j++) if (f[sOff + j] > mx) mx = f[sOff + j];
      kernel.expShift(4 * sOff, 16 * Math.ceil(m / 4), mx);
      let sum = 0;
      for (let j = 0; j < m; j++) sum += f[sOff + j];
      kernel.wsum(4 * sOff, 4 * (vOff + h * hd), m, 4 * C, 4 * hd, 4 * aOff);
      const inv = 1 / sum;
      for (let e = 0; e < hd; e++) att[oo + h * hd + e] = f[aOff + e] * inv;
    }
  }
}

interface JsScratch {
  q: Float64Array;
  scores: Float64Array;
  acc: Float64Array;
}

/**
 * Runs every segment's tokens through the blocks (writing their keys and values into the
 * segments' caches) and returns the logits after each segment's last token: (segments, V).
 * All tokens of all segments share each linear layer's matMul; attention is per token, against
 * its own segment's cache, so segments at different positions mix freely.
 */
export function segmentLogits(model: CausalLM, segments: Segment[]): Float32Array {
  if (model.arch === "llama") return llamaSegmentLogits(model, segments);
  const c = model.config;
  const C = c.nEmbd,
    H = c.nHead,
    eps = c.layerNormEpsilon;
  const hp = hostParams(model);
  const vec = (n: string) => hp.vec.get(n)!;
  const W = (n: string) => model.getParam(n);
  if (segments.length === 0) return new Float32Array(0);
  // token i of segment s is row first[s] + i of the (N, ·) activations
  const { first, N, maxPos } = segmentRows(segments, c.nPositions);
  const x = new Float32Array(N * C); // (N, C)
  segments.forEach((sg, s) => {
    sg.tokens.forEach((id, t) => {
      const o = (first[s] + t) * C,
        te = id * C,
        pe = (sg.start + t) * C;
      for (let j = 0; j < C; j++) x[o + j] = hp.wte[te + j] + hp.wpe[pe + j];
    });
  });
  const js: JsScratch = { q: new Float64Array(C), scores: new Float64Array(maxPos), acc: new Float64Array(C / H) }; // JS attention's scratch
  for (let l = 0; l < c.nLayer; l++) {
    const p = `transformer.h.${l}.`;
    const h1 = layerNormJS(x, N, C, vec(`${p}ln_1.weight`), vec(`${p}ln_1.bias`), eps);
    const qkv = linearJS(h1, N, W(`${p}attn.c_attn.weight`), vec(`${p}attn.c_attn.bias`)); // (N, 3C): q | k | v
    const att = new Float32Array(N * C); // (N, C)
    segments.forEach((sg, s) => {
      const K = sg.cache.k[l],
        V = sg.cache.v[l];
      for (let t = 0; t < sg.tokens.length; t++) {
        const src = (first[s] + t) * 3 * C,
          dst = (sg.start + t) * C;
        K.set(qkv.subarray(src + C, src + 2 * C), dst);
        V.set(qkv.subarray(src + 2 * C, src + 3 * C), dst);
      }
      attendSegment(qkv, first[s], sg, l, att, C, H, js);
    });
    const a = linearJS(att, N, W(`${p}attn.c_proj.weight`), vec(`${p}attn.c_proj.bias`)); // (N, C)
    for (let i = 0; i < x.length; i++) x[i] += a[i];
    const h2 = layerNormJS(x, N, C, vec(`${p}ln_2.weight`), vec(`${p}ln_2.bias`), eps);
    const u = linearJS(h2, N, W(`${p}mlp.c_fc.weight`), vec(`${p}mlp.c_fc.bias`)); // (N, 4C)
    geluInPlace(u);
    const m = linearJS(u, N, W(`${p}mlp.c_proj.weight`), vec(`${p}mlp.c_proj.bias`)); // (N, C)
    for (let i = 0; i < x.length; i++) x[i] += m[i];
  }
  // only each segment's last token needs logits
  const last = new Float32Array(segments.length * C); // (S, C)
  segments.forEach((sg, s) => last.set(x.subarray((first[s] + sg.tokens.length - 1) * C, (first[s] + sg.tokens.length) * C), s * C));
  const hf = layerNormJS(last, segments.length, C, vec("transformer.ln_f.weight"), vec("transformer.ln_f.bias"), eps);
  const wT = model.weightT("transformer.wte.weight"); // (C, V): the tied head in NN layout
  return matMulRead(hf, segments.length, wT); // (S, V)
}
