// Incremental decoding of a LlamaModel with a KV cache: the Llama-family counterpart of
// decode.ts's `segmentLogits`, with the same contract (segments of tokens, each entering its own
// row's cache at its own position; logits after each segment's last token). Linear layers run
// as tfjs matMuls on all tokens of all segments at once; RMSNorm, RoPE, SwiGLU's gating and
// attention over the cache are loops on typed arrays (small work per token, cheaper than
// launching kernels). Caches hold the keys after RoPE, (capacity, KV·headDim) per layer.
import * as tf from "@tensorflow/tfjs-core";
import { type Segment, segmentRows } from "../decode.ts";
import { matMulRead } from "../ops.ts";
import { ropeInvFreq } from "./config.ts";
import type { LlamaModel } from "./model.ts";

interface Host {
  version: number;
  vec: Map<string, Float32Array>; // norm weights and biases
  invFreq: Float64Array;
}
const hostCache = new WeakMap<LlamaModel, Host>();

function host(model: LlamaModel): Host {
  const h = hostCache.get(model);
  if (h && h.version === model.version) return h;
  const vec = new Map<string, Float32Array>();
  for (const n of model.paramNames())
    if (model.getParam(n).rank === 1) vec.set(n, Float32Array.from(model.getParam(n).dataSync() as Float32Array));
  const fresh = { version: model.version, vec, invFreq: ropeInvFreq(model.config) };
  hostCache.set(model, fresh);
  return fresh;
}

/** In place over rows of width `width`: x · rsqrt(mean(x²) + eps) · w. */
function rmsNormJS(x: Float32Array, width: number, w: Float32Array, eps: number, out: Float32Array = x): Float32Array {
  for (let o = 0; o < x.length; o += width) {
    let ss = 0;
    for (let j = 0; j < width; j++) ss += x[o + j] * x[o + j];
    const r = 1 / Math.sqrt(ss / width + eps);
    for (let j = 0; j < width; j++) out[o + j] = x[o + j] * r * w[j];
  }
  return out;
}

function addBias(y: Float32Array, b: Float32Array): void {
  const n = b.length;
  for (let o = 0; o < y.length; o += n) for (let j = 0; j < n; j++) y[o + j] += b[j];
}

/** Rotate-half RoPE in place for `heads` heads of each row, row r at position pos[r]. */
function ropeJS(x: Float32Array, heads: number, d: number, pos: Int32Array, invFreq: Float64Array): void {
  const half = d / 2,
    width = heads * d;
  for (let r = 0; r < pos.length; r++) {
    for (let j = 0; j < half; j++) {
      const a = pos[r] * invFreq[j],
        cs = Math.cos(a),
        sn = Math.sin(a);
      for (let h = 0; h < heads; h++) {
        const o = r * width + h * d + j;
        const x1 = x[o],
          x2 = x[o + half];
        x[o] = x1 * cs - x2 * sn;
        x[o + half] = x2 * cs + x1 * sn;
      }
    }
  }
}

export function llamaSegmentLogits(model: LlamaModel, segments: Segment[]): Float32Array {
  const c = model.config;
  if (segments.length === 0) return new Float32Array(0);
  const C = c.nEmbd,
    H = c.nHead,
    KV = c.nKVHead,
    d = c.headDim,
    rep = H / KV,
    eps = c.rmsNormEps;
  const qw = H * d,
    kvw = KV * d,
    scale = 1 / Math.sqrt(d);
  const hp = host(model);
  const { first, N, maxPos } = segmentRows(segments, c.nPositions);
  const ids = new Int32Array(N),
    pos = new Int32Array(N);
  segments.forEach((sg, s) =>
    sg.tokens.forEach((id, t) => {
      ids[first[s] + t] = id;
      pos[first[s] + t] = sg.start + t;
    }),
  );
  const xt = tf.tidy(() => tf.gather(model.getParam("model.embed_tokens.weight") as tf.Tensor2D, tf.tensor1d(ids, "int32")));
  const x = Float32Array.from(xt.dataSync() as Float32Array); // (N, C)
  xt.dispose();
  const scores = new Float64Array(maxPos),
    acc = new Float64Array(d);
  const h = new Float32Array(N * C);
  for (let l = 0; l < c.nLayer; l++) {
    const W = (suffix: string) => model.getParam(`model.layers.${l}.${suffix}`);
    const vec = (suffix: string) => hp.vec.get(`model.layers.${l}.${suffix}`)!;
    rmsNormJS(x, C, vec("input_layernorm.weight"), eps, h);
    const q = matMulRead(h, N, W("self_attn.q_proj.weight")); // (N, H·d)
    const k = matMulRead(h, N, W("self_attn.k_proj.weight")); // (N, KV·d)
    const v = matMulRead(h, N, W("self_attn.v_proj.weight"));
    if (c.attentionBias) {
      addBias(q, vec("self_attn.q_proj.bias"));
      addBias(k, vec("self_attn.k_proj.bias"));
      addBias(v, vec("self_attn.v_proj.bias"));
    }
    if (c.qkNorm) {
      rmsNormJS(q, d, vec("self_attn.q_norm.weight"), eps);
      rmsNormJS(k, d, vec("self_attn.k_norm.weight"), eps);
    }
    ropeJS(q, H, d, pos, hp.invFreq);
    ropeJS(k, KV, d, pos, hp.invFreq);
    const att = new Float32Array(N * qw);
    segments.forEach((sg, s) => {
      const K = sg.cache.k[l],
        V = sg.cache.v[l];
      for (let t = 0; t < sg.tokens.length; t++) {
        const src = (first[s] + t) * kvw,
          dst = (sg.start + t) * kvw;
        K.set(k.subarray(src, src + kvw), dst);
        V.set(v.subarray(src, src + kvw), dst);
      }
      for (let t = 0; t < sg.tokens.length; t++) {
        const row = first[s] + t,
          upto = sg.start + t;
        for (let hh = 0; hh < H; hh++) {
          const qo = row * qw + hh * d,
            ko = Math.floor(hh / rep) * d;
          let mx = -Infinity;
          for (let j = 0; j <= upto; j++) {
            let sc = 0;
            const kb = j * kvw + ko;
            for (let e = 0; e < d; e++) sc += q[qo + e] * K[kb + e];
            sc *= scale;
            scores[j] = sc;
            if (sc > mx) mx = sc;
          }
          let sum = 0;
          for (let j = 0; j <= upto; j++) sum += scores[j] = Math.exp(scores[j] - mx);
          acc.fill(0);
          for (let j = 0; j <= upto; j++) {
            const w = scores[j],
              vb = j * kvw + ko;
            for (let e = 0; e < d; e++) acc[e] += w * V[vb + e];
          }
          for (let e = 0; e < d; e++) att[qo + e] = acc[e] / sum;
        }
      }
    });
    const a = matMulRead(att, N, W("self_attn.o_proj.weight"));
    for (let i = 0; i < x.length; i++) x[i] += a[i];
    rmsNormJS(x, C, vec("post_attention_layernorm.weight"), eps, h);
    const g = matMulRead(h, N, W("mlp.gate_proj.weight")); // (N, I)
    const u = matMulRead(h, N, W("mlp.up_proj.weight"));
    for (let i = 0; i < g.length; i++) g[i] = (g[i] / (1 + Math.exp(-g[i]))) * u[i];
    const m = matMulRead(g, N, W("mlp.down_proj.weight"));
    for (let i = 0; i < x.length; i++) x[i] += m[i];
  }
  const last = new Float32Array(segments.length * C);
  segments.forEach((sg, s) => last.set(x.subarray((first[s] + sg.tokens.length - 1) * C, (first[s] + sg.tokens.length) * C), s * C));
  rmsNormJS(last, C, hp.vec.get("model.norm.weight")!, eps);
  const logits = tf.tidy(() => model.matMulWeightT(tf.tensor2d(last, [segments.length, C]), model.headName));
  try {
    return logits.dataSync() as Float32Array;
  } finally {
    logits.dispose();
  }
}
