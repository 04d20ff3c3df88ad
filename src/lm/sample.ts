// Autoregressive sampling with a KV cache. The decode step (`segmentLogits`) runs any set of
// token segments through the blocks at once: each segment belongs to one row with its own KV
// cache and its own position, so a prompt prefill and the next token of many rows at different
// positions share the same matMuls. `sample()` runs one request (its prompt prefilled once, the
// cache copied to its n rows, the rows advancing together); `SampleBatcher` (batch.ts) runs many
// concurrent requests through the same step.
// Only the matMuls run as tfjs kernels; LayerNorm, residuals and attention over the cache are
// short loops on typed arrays, which beat launching tfjs kernels for such small work, and the
// hottest of them (attention's inner loops, softmax's and GELU's exp) run in a small
// WebAssembly SIMD kernel assembled below.
import * as tf from "@tensorflow/tfjs-core";
import { type CausalLM, kvWidth } from "./causal.ts";
import { llamaSegmentLogits } from "./llama/decode.ts";
import type { GPT } from "./model.ts";
import { makeRng } from "./model.ts";
import { nucleus } from "./nucleus.ts";
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
  /** also record, per step, the this-many most likely tokens with their temperature-1 log-probs (OpenAI's top_logprobs) */
  topLogprobs?: number;
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
  /** with `topLogprobs`: per step, the most likely tokens, most likely first */
  stepTopLogprobs?: { id: number; logprob: number }[][];
  finishReason: "eos" | "stop" | "length" | "aborted";
}

/** One row's keys and values: per layer (capacity, W), position p at [p·W, (p+1)·W), W = kvWidth(model). */
export interface KVCache {
  k: Float32Array[];
  v: Float32Array[];
}

export function newCache(model: CausalLM, capacity: number): KVCache {
  const nLayer = model.config.nLayer, width = kvWidth(model);
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

/** x (rows, in) @ w (in, out), read back to JS. (Not returned through tf.tidy: it walks typed arrays element by element.) */
function matMulRead(x: Float32Array, rows: number, inDim: number, w: tf.Tensor2D): Float32Array {
  const y = tf.tidy(() => tf.matMul(tf.tensor2d(x, [rows, inDim]), w));
  try {
    return y.dataSync() as Float32Array;
  } finally {
    y.dispose();
  }
}

/** x (rows, in) @ W (in, out) + bias, with only the matMul on the tfjs backend (NN layout: its fast path). */
function linearJS(x: Float32Array, rows: number, w: tf.Tensor, bias: Float32Array): Float32Array {
  const [inDim, out] = w.shape;
  const y = matMulRead(x, rows, inDim, w as tf.Tensor2D);
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
  qkv: Float32Array, qo: number, K: Float32Array, V: Float32Array, upto: number,
  out: Float32Array, oo: number, C: number, H: number, q: Float64Array, scores: Float64Array, acc: Float64Array,
): void {
  const hd = C / H, hd4 = hd - (hd % 4), scale = 1 / Math.sqrt(hd);
  for (let i = 0; i < C; i++) q[i] = qkv[qo + i] * scale;
  for (let h = 0; h < H; h++) {
    const qh = h * hd;
    let mx = -Infinity;
    for (let j = 0, ko = qh; j <= upto; j++, ko += C) {
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0, e = 0;
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

// ---- the decode step's scalar hot loops as a WebAssembly SIMD kernel ---------------------------
// V8 does not vectorise JS loops. These four f32x4 functions, assembled from bytes here (no
// toolchain, no dependency), run attention's two inner loops at ~6 GFLOP/s on the decode shape
// (the JS loops: ~1.4), and exp (softmax, GELU) ~5× faster than Math.exp. Each segment's keys and
// values are copied into the kernel's memory per layer; keeping the caches there instead (a block
// allocator) measured no faster, so the simpler copy stays.
// Where WebAssembly SIMD is missing (or a head size is not a multiple of 4) the JS loops run.
// Pointers, strides and lengths are in bytes; lengths are multiples of 16.
//   dots(q, k, n, stride, hdBytes, out)  out[j] = Σ_e q[e]·k[j·stride/4 + e]             j < n
//   wsum(w, v, n, stride, hdBytes, acc)  acc[e] = Σ_j w[j]·v[j·stride/4 + e]             e < hd
//   expShift(x, bytes, shift)            x[i] = exp(x[i] − shift)
//   gelu(x, bytes)                       x[i] = x[i]·σ(2·√(2/π)·(x[i] + 0.044715·x[i]³))  (gelu_new)
// exp: clamp to [−87, 88], x = k·ln2 + r with |r| ≤ ln2/2, degree-6 Taylor polynomial for e^r
// (relative error ~2e-7, float32's own), 2^k built in the exponent bits.

type StridedFn = (a: number, b: number, n: number, stride: number, hdBytes: number, out: number) => void;
interface SimdKernel {
  memory: WebAssembly.Memory;
  f32: Float32Array;
  dots: StridedFn;
  wsum: StridedFn;
  expShift: (x: number, bytes: number, shift: number) => void;
  gelu: (x: number, bytes: number) => void;
}

function assembleKernel(): SimdKernel {
  const uleb = (n: number): number[] => { const o: number[] = []; do { let b = n & 0x7f; n >>>= 7; if (n) b |= 0x80; o.push(b); } while (n); return o; };
  const sleb = (v: number): number[] => { const o: number[] = []; for (;;) { const b = v & 0x7f; v >>= 7; if ((v === 0 && !(b & 0x40)) || (v === -1 && b & 0x40)) { o.push(b); return o; } o.push(b | 0x80); } };
  const get = (i: number) => [0x20, i], set = (i: number) => [0x21, i], tee = (i: number) => [0x22, i];
  const i32 = (v: number) => [0x41, ...sleb(v)];
  const simd = (opcode: number) => [0xfd, ...uleb(opcode)];
  const splat = (v: number) => [0x43, ...new Uint8Array(Float32Array.of(v).buffer), ...simd(0x13)]; // f32.const v; f32x4.splat
  const add = 0x6a, shl = 0x74, ltU = 0x49, brIf = 0x0d, loop = [0x03, 0x40], end = 0x0b, f32Add = 0x92;
  const vLoad = [...simd(0), 4, 0], vStore = [...simd(11), 4, 0], vZero = [...simd(12), ...new Array(16).fill(0)];
  const fxAdd = simd(0xe4), fxSub = simd(0xe5), fxMul = simd(0xe6), fxDiv = simd(0xe7), fxMin = simd(0xe8), fxMax = simd(0xe9);
  const lane = (k: number) => [...simd(0x1f), k];
  /** exp of the v128 on the stack; X, K, R are v128 scratch locals. */
  const expV = (X: number, K: number, R: number) => [
    ...splat(88), ...fxMin, ...splat(-87), ...fxMax, ...tee(X),
    ...splat(Math.LOG2E), ...fxMul, ...simd(0x6a) /* f32x4.nearest */, ...set(K),
    ...get(X), ...get(K), ...splat(0.693145751953125), ...fxMul, ...fxSub, ...get(K), ...splat(1.428606765330187e-6), ...fxMul, ...fxSub, ...set(R), // r = x − k·ln2 (ln2 in two parts)
    ...splat(1 / 720), ...[1 / 120, 1 / 24, 1 / 6, 1 / 2, 1, 1].flatMap((c) => [...get(R), ...fxMul, ...splat(c), ...fxAdd]),
    ...get(K), ...simd(0xf8) /* i32x4.trunc_sat_f32x4_s */, ...i32(127), ...simd(0x11) /* i32x4.splat */, ...simd(0xae) /* i32x4.add */, ...i32(23), ...simd(0xab) /* i32x4.shl */, ...fxMul,
  ];
  // dots / wsum: params 0..5 as documented; locals 6 = j, 7 = e (bytes), 8 = v128
  const nextE = [...get(7), ...i32(16), add, ...tee(7), ...get(4), ltU, brIf, 0];
  const nextJ = [...get(1), ...get(3), add, ...set(1), ...get(6), ...i32(1), add, ...tee(6), ...get(2), ltU, brIf, 0];
  const dots = [
    ...loop, ...vZero, ...set(8), ...i32(0), ...set(7),
    ...loop, ...get(8), ...get(0), ...get(7), add, ...vLoad, ...get(1), ...get(7), add, ...vLoad, ...fxMul, ...fxAdd, ...set(8), ...nextE, end,
    ...get(5), ...get(6), ...i32(2), shl, add,
    ...get(8), ...lane(0), ...get(8), ...lane(1), f32Add, ...get(8), ...lane(2), ...get(8), ...lane(3), f32Add, f32Add, 0x38, 2, 0, // f32.store
    ...nextJ, end,
  ];
  const wsum = [
    ...i32(0), ...set(7), ...loop, ...get(5), ...get(7), add, ...vZero, ...vStore, ...nextE, end,
    ...loop, ...get(0), ...get(6), ...i32(2), shl, add, 0x2a, 2, 0 /* f32.load */, ...simd(0x13), ...set(8), ...i32(0), ...set(7),
    ...loop, ...get(5), ...get(7), add, ...get(5), ...get(7), add, ...vLoad, ...get(1), ...get(7), add, ...vLoad, ...get(8), ...fxMul, ...fxAdd, ...vStore, ...nextE, end,
    ...nextJ, end,
  ];
  // expShift(x, bytes, shift: f32): locals 3 = i, 4..6 v128 · gelu(x, bytes): locals 2 = i, 3 = z, 4..6 v128
  const expShift = [
    ...i32(0), ...set(3),
    ...loop, ...get(0), ...get(3), add, ...get(0), ...get(3), add, ...vLoad, ...get(2), ...simd(0x13), ...fxSub, ...expV(4, 5, 6), ...vStore,
    ...get(3), ...i32(16), add, ...tee(3), ...get(1), ltU, brIf, 0, end,
  ];
  const gelu = [
    ...i32(0), ...set(2),
    ...loop, ...get(0), ...get(2), add, ...get(0), ...get(2), add, ...vLoad, ...tee(3), // z (the numerator)
    ...get(3), ...get(3), ...fxMul, ...get(3), ...fxMul, ...splat(0.044715), ...fxMul, ...get(3), ...fxAdd, ...splat(-2 * Math.sqrt(2 / Math.PI)), ...fxMul,
    ...expV(4, 5, 6), ...splat(1), ...fxAdd, ...fxDiv, ...vStore, // z / (1 + e^(−2u))
    ...get(2), ...i32(16), add, ...tee(2), ...get(1), ltU, brIf, 0, end,
  ];
  const I32 = 0x7f, F32 = 0x7d, V128 = 0x7b;
  const section = (id: number, b: number[]) => [id, ...uleb(b.length), ...b];
  const name = (x: string) => [x.length, ...Array.from(x, (ch) => ch.charCodeAt(0))];
  const body = (locals: number[], code: number[]) => { const b = [...locals, ...code, end]; return [...uleb(b.length), ...b]; };
  const bytes = new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, [3, 0x60, 6, I32, I32, I32, I32, I32, I32, 0, 0x60, 3, I32, I32, F32, 0, 0x60, 2, I32, I32, 0]), // types
    ...section(2, [1, ...name("m"), ...name("mem"), 2, 0, 1]), // imports: memory m.mem
    ...section(3, [4, 0, 0, 1, 2]), // functions' types
    ...section(7, [4, ...name("dots"), 0, 0, ...name("wsum"), 0, 1, ...name("expShift"), 0, 2, ...name("gelu"), 0, 3]),
    ...section(10, [4, ...body([2, 2, I32, 1, V128], dots), ...body([2, 2, I32, 1, V128], wsum), ...body([2, 1, I32, 3, V128], expShift), ...body([2, 1, I32, 4, V128], gelu)]),
  ]);
  const memory = new WebAssembly.Memory({ initial: 16 });
  const ex = new WebAssembly.Instance(new WebAssembly.Module(bytes), { m: { mem: memory } }).exports;
  return {
    memory, f32: new Float32Array(memory.buffer),
    dots: ex.dots as StridedFn, wsum: ex.wsum as StridedFn, expShift: ex.expShift as SimdKernel["expShift"], gelu: ex.gelu as SimdKernel["gelu"],
  };
}

let simdKernel: SimdKernel | null | undefined;
function getKernel(): SimdKernel | null {
  if (simdKernel === undefined) {
    try {
      simdKernel = assembleKernel();
    } catch {
      simdKernel = null; // no WebAssembly SIMD in this runtime: the JS loops run
    }
  }
  return simdKernel;
}

/** The kernel's memory as floats, at least `floats` long (growing it replaces the buffer). */
function kernelFloats(kernel: SimdKernel, floats: number): Float32Array {
  const bytes = floats * 4;
  if (kernel.memory.buffer.byteLength < bytes) {
    kernel.memory.grow(Math.ceil((bytes - kernel.memory.buffer.byteLength) / 65536));
    kernel.f32 = new Float32Array(kernel.memory.buffer);
  }
  return kernel.f32;
}

/** Which inner loops this process runs ("wasm-simd" or "js"), for benchmarks to report. */
export function attentionKernel(): "wasm-simd" | "js" {
  return getKernel() ? "wasm-simd" : "js";
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
function attendSegment(qkv: Float32Array, first: number, sg: Segment, l: number, att: Float32Array, C: number, H: number, js: JsScratch): void {
  const hd = C / H, scale = 1 / Math.sqrt(hd), len = sg.tokens.length;
  const K = sg.cache.k[l], V = sg.cache.v[l];
  const kernel = hd % 4 === 0 ? getKernel() : null;
  if (!kernel) {
    for (let t = 0; t < len; t++) attendOne(qkv, (first + t) * 3 * C, K, V, sg.start + t, att, (first + t) * C, C, H, js.q, js.scores, js.acc);
    return;
  }
  // kernel memory (floats): keys (n, C) | values (n, C) | query (C) | scores (n, padded to 4) | acc (hd)
  const n = sg.start + len;
  const vOff = n * C, qOff = 2 * n * C, sOff = qOff + C, aOff = sOff + Math.ceil(n / 4) * 4;
  const f = kernelFloats(kernel, aOff + hd);
  f.set(K.subarray(0, n * C), 0);
  f.set(V.subarray(0, n * C), vOff);
  for (let t = 0; t < len; t++) {
    const qo = (first + t) * 3 * C, oo = (first + t) * C, m = sg.start + t + 1; // attends to m positions
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

interface JsScratch { q: Float64Array; scores: Float64Array; acc: Float64Array }

/**
 * Runs every segment's tokens through the blocks (writing their keys and values into the
 * segments' caches) and returns the logits after each segment's last token: (segments, V).
 * All tokens of all segments share each linear layer's matMul; attention is per token, against
 * its own segment's cache, so segments at different positions mix freely.
 */
export function segmentLogits(model: CausalLM, segments: Segment[]): Float32Array {
  if (model.arch === "llama") return llamaSegmentLogits(model, segments);
  const c = model.config;
  const C = c.nEmbd, H = c.nHead, eps = c.layerNormEpsilon;
  const hp = hostParams(model);
  const vec = (n: string) => hp.vec.get(n)!;
  const W = (n: string) => model.getParam(n);
  if (segments.length === 0) return new Float32Array(0);
  // token i of segment s is row first[s] + i of the (N, ·) activations
  const first: number[] = [];
  let N = 0, maxPos = 0;
  for (const sg of segments) {
    if (sg.tokens.length === 0) throw new Error("segmentLogits: a segment has no tokens");
    if (sg.start + sg.tokens.length > c.nPositions) throw new Error(`segmentLogits: position ${sg.start + sg.tokens.length - 1} is outside the context of ${c.nPositions}`);
    first.push(N);
    N += sg.tokens.length;
    maxPos = Math.max(maxPos, sg.start + sg.tokens.length);
  }
  const x = new Float32Array(N * C); // (N, C)
  segments.forEach((sg, s) => {
    sg.tokens.forEach((id, t) => {
      const o = (first[s] + t) * C, te = id * C, pe = (sg.start + t) * C;
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
      const K = sg.cache.k[l], V = sg.cache.v[l];
      for (let t = 0; t < sg.tokens.length; t++) {
        const src = (first[s] + t) * 3 * C, dst = (sg.start + t) * C;
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
  return matMulRead(hf, segments.length, C, wT); // (S, V)
}

let pickScratch = new Float64Array(0);

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
  const filtered = (opts.topK && opts.topK > 0 && opts.topK < V) || (opts.topP !== undefined && opts.topP < 1);
  if (!filtered) {
    // the common case, without the index arrays below: the same weights, summed and walked in id order
    if (pickScratch.length < V) pickScratch = new Float64Array(V);
    const w = pickScratch;
    let total = 0;
    for (let i = 0; i < V; i++) total += w[i] = Math.exp((logits[i] - mx) / tau);
    let u = rand() * total;
    for (let i = 0; i < V; i++) {
      u -= w[i];
      if (u < 0) return { id: i, logprob: logits[i] - lse };
    }
    return { id: V - 1, logprob: logits[V - 1] - lse };
  }
  // The kept tokens most likely first, as sorting the whole row would give them, without sorting
  // it (nucleus.ts: ~10 ms a token at a 49k vocabulary otherwise).
  const { ids: order, weights: w } = nucleus(logits, tau, opts.topK, opts.topP);
  const total = w.reduce((a, b) => a + b, 0);
  let u = rand() * total;
  let pick = order[order.length - 1];
  for (let j = 0; j < order.length; j++) {
    u -= w[j];
    if (u < 0) { pick = order[j]; break; }
  }
  return { id: pick, logprob: logits[pick] - lse };
}

/** The k most likely tokens of one row of logits with their temperature-1 log-probs, most likely first (ties by id). */
export function topLogprobs(logits: Float32Array, k: number): { id: number; logprob: number }[] {
  const V = logits.length;
  let mx = -Infinity;
  for (let i = 0; i < V; i++) if (logits[i] > mx) mx = logits[i];
  let z = 0;
  for (let i = 0; i < V; i++) z += Math.exp(logits[i] - mx);
  const lse = mx + Math.log(z);
  // the k most likely, ties by id: the top-k rule the sampler uses (nucleus.ts)
  const best = k > 0 ? nucleus(logits, 1, k).ids : [];
  return best.map((id) => ({ id, logprob: logits[id] - lse }));
}

function validate(model: CausalLM, tok: Tokenizer, o: SampleOptions): void {
  if (!Number.isInteger(o.n) || o.n < 1) throw new Error(`sample: n must be a positive integer, got ${o.n}`);
  if (!(o.temperature >= 0)) throw new Error(`sample: temperature must be >= 0, got ${o.temperature}`);
  if (o.topK !== undefined && (!Number.isInteger(o.topK) || o.topK < 0)) throw new Error(`sample: topK must be a non-negative integer, got ${o.topK}`);
  if (o.topP !== undefined && !(o.topP > 0 && o.topP <= 1)) throw new Error(`sample: topP must be in (0, 1], got ${o.topP}`);
  if (!Number.isInteger(o.maxNewTokens) || o.maxNewTokens < 0) throw new Error(`sample: maxNewTokens must be a non-negative integer, got ${o.maxNewTokens}`);
  if (o.topLogprobs !== undefined && (!Number.isInteger(o.topLogprobs) || o.topLogprobs < 0 || o.topLogprobs > 20)) throw new Error(`sample: topLogprobs must be an integer in [0, 20], got ${o.topLogprobs}`);
  if (o.promptIds.length < 1) throw new Error("sample: promptIds is empty (start it with BOS; use encodePrompt)");
  if (o.promptIds.length > model.config.nPositions) throw new Error(`sample: prompt has ${o.promptIds.length} tokens; the model's context is ${model.config.nPositions}`);
  for (const id of o.promptIds) if (!Number.isInteger(id) || id < 0 || id >= model.config.vocabSize) throw new Error(`sample: prompt token ${id} is outside the vocabulary`);
  if (tok.vocabSize > model.config.vocabSize) throw new Error(`sample: tokenizer "${tok.name}" does not fit the model's vocabulary`);
}

/** One completion being generated: its cache, the position its next token goes to, and the logits it picks from. */
export interface Row {
  index: number;
  cache: KVCache;
  /** Position of the next token fed to the model (the one picked from `logits`). */
  pos: number;
  logits: Float32Array | null;
  done: boolean;
}

/**
 * The state of one sampling request (one prompt, n rows), stepped from outside: `prefill()`
 * gives the prompt segment, `acceptPrefill` its logits; then each step `pick()` chooses every
 * live row's next token and `decodeSegments()` / `acceptLogits` feed those tokens back. The
 * request owns its RNG, so its results do not depend on which other requests share the steps.
 */
export class SampleRequest {
  readonly n: number;
  readonly rows: Row[];
  readonly out: SampledCompletion[];
  private readonly rand: () => number;
  private readonly stops: string[];
  private readonly budget: number;
  private steps = 0;
  private fed: Row[] = [];

  constructor(readonly model: CausalLM, readonly tok: Tokenizer, readonly opts: SampleOptions) {
    validate(model, tok, opts);
    const P = model.config.nPositions, T0 = opts.promptIds.length;
    this.n = opts.n;
    this.rand = makeRng(opts.seed);
    this.stops = (opts.stopStrings ?? []).filter((s) => s.length > 0);
    this.budget = Math.min(opts.maxNewTokens, P - T0 + 1);
    this.out = Array.from({ length: this.n }, () => ({ ids: [], text: "", logprob: 0, stepLogprobs: [], finishReason: "length" as const }));
    this.rows = Array.from({ length: this.n }, (_, index) => ({ index, cache: { k: [], v: [] }, pos: T0, logits: null, done: this.budget <= 0 }));
  }

  get finished(): boolean {
    return this.rows.every((r) => r.done);
  }

  get liveRows(): Row[] {
    return this.rows.filter((r) => !r.done);
  }

  /** The prompt as one segment, into row 0's cache; sized for the prompt plus every position a row can still write. */
  prefill(): Segment {
    const T0 = this.opts.promptIds.length;
    this.rows[0].cache = newCache(this.model, T0 + this.budget - 1);
    return { cache: this.rows[0].cache, start: 0, tokens: this.opts.promptIds };
  }

  /** Copies the prompt's cache to the other rows; every row starts from the same logits (1, V). */
  acceptPrefill(logits: Float32Array): void {
    const T0 = this.opts.promptIds.length, C = kvWidth(this.model);
    const src = this.rows[0].cache;
    for (const row of this.rows) {
      row.logits = logits;
      if (row.index === 0) continue;
      row.cache = newCache(this.model, T0 + this.budget - 1);
      for (let l = 0; l < src.k.length; l++) {
        row.cache.k[l].set(src.k[l].subarray(0, T0 * C));
        row.cache.v[l].set(src.v[l].subarray(0, T0 * C));
      }
    }
  }

  /** Ends every live row as aborted when the request's signal has fired; returns whether it did. */
  checkAbort(): boolean {
    if (!this.opts.signal?.aborted) return false;
    this.abort();
    return true;
  }

  abort(): void {
    for (const row of this.rows) {
      if (row.done) continue;
      row.done = true;
      this.out[row.index].finishReason = "aborted";
    }
  }

  /** Picks the next token of every live row, in row order (the order the request's RNG is drawn in). */
  pick(): void {
    const { tok, opts } = this;
    const stops = tok.stopIds ?? [tok.eos];
    for (const row of this.rows) {
      if (row.done) continue;
      const { id, logprob } = pickToken(row.logits!, opts, this.rand);
      const o = this.out[row.index];
      if (opts.topLogprobs) (o.stepTopLogprobs ??= []).push(topLogprobs(row.logits!, opts.topLogprobs));
      o.ids.push(id);
      o.stepLogprobs.push(logprob);
      o.logprob += logprob;
      o.text = tok.decode(o.ids);
      if (stops.includes(id)) { row.done = true; o.finishReason = "eos"; }
      else {
        const hit = this.stops.map((st) => o.text.indexOf(st)).filter((i) => i >= 0);
        if (hit.length) { row.done = true; o.finishReason = "stop"; o.text = o.text.slice(0, Math.min(...hit)); }
      }
      opts.onToken?.(row.index, id, o.text);
      row.logits = null;
    }
    this.steps++;
    // the last token of the budget is never fed back: its row is complete ("length")
    if (this.steps >= this.budget) for (const row of this.rows) row.done = true;
  }

  /** One segment per live row: the token it just picked, at its own position. */
  decodeSegments(): Segment[] {
    this.fed = this.liveRows;
    return this.fed.map((row) => ({ cache: row.cache, start: row.pos, tokens: [this.out[row.index].ids.at(-1)!] }));
  }

  /** Logits for `decodeSegments()`'s rows, in the same order, as rows of a (·, V) block starting at `offset`. */
  acceptLogits(logits: Float32Array, offset = 0): void {
    const V = this.model.config.vocabSize;
    this.fed.forEach((row, i) => {
      row.logits = logits.subarray((offset + i) * V, (offset + i + 1) * V);
      row.pos++;
    });
    this.fed = [];
  }
}

export const yieldToEventLoop = () => new Promise<void>((res) => setImmediate(res));

/** n completions of one prompt, sampled as one batch with a KV cache. Yields to the event loop between steps. */
export async function sample(model: CausalLM, tok: Tokenizer, opts: SampleOptions): Promise<SampledCompletion[]> {
  const req = new SampleRequest(model, tok, opts);
  if (req.finished) return req.out;
  req.acceptPrefill(segmentLogits(model, [req.prefill()]));
  for (;;) {
    if (req.checkAbort()) break;
    req.pick();
    if (req.finished) break;
    req.acceptLogits(segmentLogits(model, req.decodeSegments()));
    await yieldToEventLoop();
  }
  return req.out;
}
