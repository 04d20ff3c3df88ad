// The Llama family's layers as differentiable tfjs functions (LlamaRMSNorm, rotate_half RoPE,
// grouped-query attention, the SwiGLU MLP, one decoder layer). Training differentiates them with
// tfjs autodiff one decoder layer at a time (see forward.ts): only layer inputs are kept between
// the forward and backward passes, and a layer's activations are recomputed when its gradient is
// needed, so memory is one layer's activations plus L residual streams. Every op used here has
// its gradient registered on wasm and cpu (gather, whose gradient is missing on wasm, is not
// used: embeddings are looked up outside the differentiated function).
import * as tf from "@tensorflow/tfjs-core";
import { fusedAttentionForward } from "../native-fused.ts";
import type { LlamaConfig } from "./config.ts";
import { ensureGradients } from "./gradients.ts";

ensureGradients();

/** x · rsqrt(mean(x²) + eps) · w over the last axis. */
export function rmsNorm(x: tf.Tensor, w: tf.Tensor, eps: number): tf.Tensor {
  const ms = tf.mean(tf.square(x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), w);
}

const rotators = new Map<string, tf.Tensor2D>();

/** (d, d) matrix R with x·R = rotate_half(x) = [−x₂, x₁]: a matMul keeps RoPE differentiable without slices. */
function rotateHalfMatrix(d: number): tf.Tensor2D {
  const key = `${tf.getBackend()}:${d}`;
  let r = rotators.get(key);
  if (!r || r.isDisposed) {
    const a = new Float32Array(d * d);
    const h = d / 2;
    for (let j = 0; j < h; j++) {
      a[(j + h) * d + j] = -1; // out[j] = −x[j + h]
      a[j * d + j + h] = 1; // out[j + h] = x[j]
    }
    r = tf.keep(tf.tensor2d(a, [d, d]));
    rotators.set(key, r);
  }
  return r;
}

/** x: (N, heads·d); cos, sin: (N, 1, d). Returns x·cos + rotate_half(x)·sin per head. */
export function rope(x: tf.Tensor2D, heads: number, d: number, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor2D {
  const N = x.shape[0];
  const rot = tf.reshape(tf.matMul(tf.reshape(x, [N * heads, d]), rotateHalfMatrix(d)), [N, heads, d]);
  const y = tf.add(tf.mul(tf.reshape(x, [N, heads, d]), cos), tf.mul(rot, sin));
  return tf.reshape(y, [N, heads * d]) as tf.Tensor2D;
}

/**
 * Causal grouped-query attention over B rows of T tokens. q: (B·T, H·d) already rotated, k, v:
 * (B·T, KV·d). Query head h uses key/value head h / (H/KV): heads are laid out so that
 * (B, H, T, d) reshapes to (B, KV, (H/KV)·T, d) for free and each group is one batched matMul
 * against its shared keys. mask: (B or 1, 1, (H/KV)·T, T) additive.
 */
export function gqa(
  q: tf.Tensor2D,
  k: tf.Tensor2D,
  v: tf.Tensor2D,
  B: number,
  T: number,
  H: number,
  KV: number,
  d: number,
  mask: tf.Tensor,
): tf.Tensor2D {
  const rep = H / KV;
  const qh = tf.reshape(tf.transpose(tf.reshape(q, [B, T, H, d]), [0, 2, 1, 3]), [B, KV, rep * T, d]);
  const kh = tf.transpose(tf.reshape(k, [B, T, KV, d]), [0, 2, 1, 3]); // (B, KV, T, d)
  const vh = tf.transpose(tf.reshape(v, [B, T, KV, d]), [0, 2, 1, 3]);
  const scores = tf.add(tf.mul(tf.matMul(qh, kh, false, true), 1 / Math.sqrt(d)), mask); // (B, KV, rep·T, T)
  const o = tf.matMul(tf.softmax(scores), vh); // (B, KV, rep·T, d)
  return tf.reshape(tf.transpose(tf.reshape(o, [B, H, T, d]), [0, 2, 1, 3]), [B * T, H * d]) as tf.Tensor2D;
}

/** down(silu(gate(x)) ⊙ up(x)) with (in, out) weights. */
export function swiglu(x: tf.Tensor2D, wGate: tf.Tensor, wUp: tf.Tensor, wDown: tf.Tensor): tf.Tensor2D {
  const g = tf.matMul(x, wGate as tf.Tensor2D);
  const u = tf.matMul(x, wUp as tf.Tensor2D);
  return tf.matMul(tf.mul(tf.mul(g, tf.sigmoid(g)), u), wDown as tf.Tensor2D) as tf.Tensor2D;
}

/** The parameter names of layer l, in the order `decoderLayer` takes them. */
export function layerParamNames(c: LlamaConfig, l: number): string[] {
  const p = `model.layers.${l}.`;
  const names = [`${p}input_layernorm.weight`, `${p}self_attn.q_proj.weight`, `${p}self_attn.k_proj.weight`, `${p}self_attn.v_proj.weight`];
  if (c.attentionBias) names.push(`${p}self_attn.q_proj.bias`, `${p}self_attn.k_proj.bias`, `${p}self_attn.v_proj.bias`);
  if (c.qkNorm) names.push(`${p}self_attn.q_norm.weight`, `${p}self_attn.k_norm.weight`);
  names.push(
    `${p}self_attn.o_proj.weight`,
    `${p}post_attention_layernorm.weight`,
    `${p}mlp.gate_proj.weight`,
    `${p}mlp.up_proj.weight`,
    `${p}mlp.down_proj.weight`,
  );
  return names;
}

export interface LayerContext {
  B: number;
  T: number;
  cos: tf.Tensor; // (B·T, 1, d)
  sin: tf.Tensor;
  /** (B or 1, 1, rep·T, T) additive mask for `gqa`; null when the fused kernel runs attention */
  mask: tf.Tensor | null;
  /** Run attention in the native fused kernel (heads in place, masked triangle skipped), with
   *  this (B, T, T) additive tree mask on top of the causal one (null: causal only). */
  fused: { bias: tf.Tensor | null } | null;
}

/** One pre-norm decoder layer: x + attn(norm(x)), then + mlp(norm(·)). x: (B·T, C). */
export function decoderLayer(c: LlamaConfig, x: tf.Tensor2D, w: tf.Tensor[], ctx: LayerContext): tf.Tensor2D {
  let i = 0;
  const next = () => w[i++];
  const d = c.headDim,
    H = c.nHead,
    KV = c.nKVHead,
    eps = c.rmsNormEps;
  const h = rmsNorm(x, next(), eps) as tf.Tensor2D;
  let q: tf.Tensor2D = tf.matMul(h, next() as tf.Tensor2D);
  let k: tf.Tensor2D = tf.matMul(h, next() as tf.Tensor2D);
  let v: tf.Tensor2D = tf.matMul(h, next() as tf.Tensor2D);
  if (c.attentionBias) {
    q = tf.add(q, next());
    k = tf.add(k, next());
    v = tf.add(v, next());
  }
  const N = x.shape[0];
  if (c.qkNorm) {
    q = tf.reshape(rmsNorm(tf.reshape(q, [N, H, d]), next(), eps), [N, H * d]);
    k = tf.reshape(rmsNorm(tf.reshape(k, [N, KV, d]), next(), eps), [N, KV * d]);
  }
  q = rope(q, H, d, ctx.cos, ctx.sin);
  k = rope(k, KV, d, ctx.cos, ctx.sin);
  const att = ctx.fused
    ? fusedAttentionForward(q, k, v, ctx.fused.bias, { B: ctx.B, T: ctx.T, heads: H, kvHeads: KV, headDim: d, qCol: 0, kCol: 0, vCol: 0 })
        .out
    : gqa(q, k, v, ctx.B, ctx.T, H, KV, d, ctx.mask!);
  const x1 = tf.add(x, tf.matMul(att, next() as tf.Tensor2D)) as tf.Tensor2D;
  const h2 = rmsNorm(x1, next(), eps) as tf.Tensor2D;
  const [wg, wu, wd] = [next(), next(), next()];
  return tf.add(x1, swiglu(h2, wg, wu, wd)) as tf.Tensor2D;
}
