// Full-sequence forward and backward passes of a LlamaModel over packed rows (pack.ts), the
// Llama-family counterpart of forward.ts's GPT-2 passes. The backward pass is tfjs autodiff
// with per-layer recomputation: the forward pass keeps only each decoder layer's input (B·T, C);
// the backward pass re-runs one layer under tf.grads with the incoming gradient, so peak memory
// holds one layer's activations. The LM head is lm-head.ts's, shared with GPT-2 and run a block
// at a time; the embedding gradient is a scatter-add by hand (gather's gradient kernel is missing
// on wasm).
import * as tf from "@tensorflow/tfjs-core";
import { fusedAttentionAvailable } from "../native-fused.ts";
import { gatherRows } from "../ops.ts";
import type { Packed } from "../pack.ts";
import { ropeTables } from "./config.ts";
import { decoderLayer, type LayerContext, layerParamNames, rmsNorm } from "./layers.ts";
import type { LlamaModel } from "./model.ts";

/** The RoPE tables and attention mask of a packed batch, as tensors (caller disposes via tidy/dispose). */
function layerContext(model: LlamaModel, pk: Packed): LayerContext {
  const c = model.config;
  const { B, T } = pk;
  const d = c.headDim,
    rep = c.nHead / c.nKVHead;
  const { cos, sin } = ropeTables(c, pk.pos);
  if (fusedAttentionAvailable())
    return {
      B,
      T,
      cos: tf.tensor3d(cos, [B * T, 1, d]),
      sin: tf.tensor3d(sin, [B * T, 1, d]),
      mask: null,
      fused: { bias: pk.bias ? tf.tensor3d(pk.bias, [B, T, T]) : null },
    };
  // one (T, T) mask per row (tree-shaped when prompts are shared), repeated for each query head of a group
  const rows = pk.bias ? B : 1;
  const mask = new Float32Array(rows * rep * T * T);
  for (let b = 0; b < rows; b++) {
    let src: Float32Array;
    if (pk.bias) src = pk.bias.subarray(b * T * T, (b + 1) * T * T);
    else {
      src = new Float32Array(T * T);
      for (let i = 0; i < T; i++) src.fill(-1e9, i * T + i + 1, (i + 1) * T);
    }
    for (let r = 0; r < rep; r++) mask.set(src, (b * rep + r) * T * T);
  }
  return {
    B,
    T,
    cos: tf.tensor3d(cos, [B * T, 1, d]),
    sin: tf.tensor3d(sin, [B * T, 1, d]),
    mask: tf.tensor4d(mask, [rows, 1, rep * T, T]),
    fused: null,
  };
}

function disposeContext(ctx: LayerContext): void {
  for (const t of [ctx.cos, ctx.sin, ctx.mask, ctx.fused?.bias]) t?.dispose();
}

function embed(model: LlamaModel, pk: Packed): tf.Tensor2D {
  return tf.tidy(() => tf.gather(model.getParam("model.embed_tokens.weight") as tf.Tensor2D, tf.tensor1d(pk.ids, "int32")) as tf.Tensor2D);
}

/** The final hidden state (M, C) of the scored rows, the LM head's input (caller disposes). No gradients. */
export function llamaHeadInput(model: LlamaModel, pk: Packed): tf.Tensor2D {
  const c = model.config;
  const ctx = layerContext(model, pk);
  try {
    let x = embed(model, pk);
    for (let l = 0; l < c.nLayer; l++) {
      const w = layerParamNames(c, l).map((n) => model.getParam(n));
      const xIn = x;
      x = tf.tidy(() => decoderLayer(c, xIn, w, ctx));
      xIn.dispose();
    }
    const xL = x;
    try {
      return tf.tidy(() => gatherRows(rmsNorm(xL, model.getParam("model.norm.weight"), c.rmsNormEps) as tf.Tensor2D, pk.sel));
    } finally {
      xL.dispose();
    }
  } finally {
    disposeContext(ctx);
  }
}

export interface LlamaPending {
  /** The final hidden state (M, C) of the scored rows, the LM head's input; freed with the pass. */
  hSel: tf.Tensor2D;
  /**
   * The head's gradients (lm-head.ts's headBackward: dh (M, C), disposed here; dW (V·C), consumed)
   * → gradients by parameter name. Consumes the saved activations.
   */
  backward(dh: tf.Tensor2D, dHead: Float32Array): Map<string, tf.Tensor>;
  dispose(): void;
}

/** The forward pass with each layer's input kept for `backward`. */
export function llamaForwardSaved(model: LlamaModel, pk: Packed): LlamaPending {
  const c = model.config;
  const ctx = layerContext(model, pk);
  const inputs: tf.Tensor2D[] = [];
  let hSel: tf.Tensor2D | null = null;
  const release = () => {
    for (const t of inputs) t.dispose();
    inputs.length = 0;
    hSel?.dispose();
    hSel = null;
    disposeContext(ctx);
  };
  try {
    let x = embed(model, pk);
    for (let l = 0; l < c.nLayer; l++) {
      inputs.push(x);
      const w = layerParamNames(c, l).map((n) => model.getParam(n));
      const xIn = x;
      x = tf.tidy(() => decoderLayer(c, xIn, w, ctx));
    }
    inputs.push(x); // the final norm's input
    hSel = tf.tidy(() => gatherRows(rmsNorm(x, model.getParam("model.norm.weight"), c.rmsNormEps) as tf.Tensor2D, pk.sel));
  } catch (e) {
    release();
    throw e;
  }
  let consumed = false;
  const backward = (dh: tf.Tensor2D, dHead: Float32Array): Map<string, tf.Tensor> => {
    if (consumed) {
      dh.dispose();
      throw new Error("backward() was already called (or the pass was disposed)");
    }
    consumed = true;
    try {
      return backwardPass(model, pk, ctx, inputs, dh, dHead);
    } finally {
      dh.dispose();
      release();
    }
  };
  return {
    hSel: hSel!,
    backward,
    dispose: () => {
      consumed = true;
      release();
    },
  };
}

function backwardPass(
  model: LlamaModel,
  pk: Packed,
  ctx: LayerContext,
  inputs: tf.Tensor2D[],
  dhSel: tf.Tensor2D,
  dHead: Float32Array,
): Map<string, tf.Tensor> {
  const c = model.config;
  const C = c.nEmbd,
    V = c.vocabSize,
    N = pk.B * pk.T;
  const grads = new Map<string, tf.Tensor>();
  const P = (n: string) => model.getParam(n);
  try {
    // a row shared by several completions (the last prompt position) collects all their gradients
    const dh = dhSel.dataSync() as Float32Array; // (M, C)
    const acc = new Float32Array(N * C);
    pk.sel.forEach((r, m) => {
      for (let j = 0; j < C; j++) acc[r * C + j] += dh[m * C + j];
    });
    const dhf = tf.tensor2d(acc, [N, C]);
    const [dxL, dNorm] = tf.tidy(() =>
      tf.grads((x: tf.Tensor, w: tf.Tensor) => rmsNorm(x, w, c.rmsNormEps))([inputs[c.nLayer], P("model.norm.weight")], dhf),
    );
    dhf.dispose();
    grads.set("model.norm.weight", dNorm);
    let dx = dxL as tf.Tensor2D;
    for (let l = c.nLayer - 1; l >= 0; l--) {
      const names = layerParamNames(c, l);
      const w = names.map((n) => P(n));
      const dy = dx;
      const g = tf.tidy(() =>
        tf.grads((x: tf.Tensor, ...ws: tf.Tensor[]) => decoderLayer(c, x as tf.Tensor2D, ws, ctx))([inputs[l], ...w], dy),
      );
      dy.dispose();
      inputs[l + 1].dispose();
      dx = g[0] as tf.Tensor2D;
      names.forEach((n, i) => grads.set(n, g[i + 1]));
    }
    // embedding: scatter-add of the input gradient, into the head's when tied (one (V, C) upload)
    const dxd = dx.dataSync() as Float32Array;
    dx.dispose();
    const dE = c.tieWordEmbeddings ? dHead : new Float32Array(V * C);
    for (let r = 0; r < N; r++) {
      const src = r * C,
        dst = pk.ids[r] * C;
      for (let j = 0; j < C; j++) dE[dst + j] += dxd[src + j];
    }
    grads.set("model.embed_tokens.weight", tf.tensor2d(dE, [V, C]));
    if (!c.tieWordEmbeddings) grads.set("lm_head.weight", tf.tensor2d(dHead, [V, C]));
  } catch (e) {
    for (const g of grads.values()) g.dispose();
    throw e;
  }
  for (const n of model.paramNames()) if (!grads.has(n)) throw new Error(`internal: no gradient for ${n}`);
  return grads;
}
