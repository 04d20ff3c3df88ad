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

/**
 * Budget for one chunk of a layer's recomputed backward pass, in tokens × the layer's widest
 * activation (the MLP's intermediate size): 2^20 is 3 packed rows of 192 tokens at the
 * SmolLM2-135M shape. tfjs autodiff holds every intermediate of the layer and of its gradient
 * until the layer is done, ~200 KB per token there (~300 MB for a 1,536-token step), on top of
 * the weights and gradients; in chunks of packed rows (rows never attend to each other) that
 * costs a chunk's worth, and the weight gradients are summed over the chunks.
 */
export const LAYER_CHUNK_ELEMENTS = 1 << 20;
let layerChunkElements = LAYER_CHUNK_ELEMENTS;

/** Sets the per-chunk budget of the layers' backward pass (tests force small chunks); returns the previous value. */
export function setLayerChunkElements(n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new Error(`layer chunk elements must be a positive integer, got ${n}`);
  const prev = layerChunkElements;
  layerChunkElements = n;
  return prev;
}

interface Chunk {
  /** first packed row and row count */
  b0: number;
  nb: number;
  ctx: LayerContext;
}

/** The packed rows split into chunks for the backward pass, each with its slice of the layer context. */
function backwardChunks(model: LlamaModel, pk: Packed, ctx: LayerContext): Chunk[] {
  const c = model.config;
  const { B, T } = pk;
  const width = Math.max(c.intermediateSize, c.nEmbd, c.nHead * c.headDim);
  const rows = Math.max(1, Math.min(B, Math.floor(layerChunkElements / (T * width))));
  if (rows >= B) return [{ b0: 0, nb: B, ctx }];
  const chunks: Chunk[] = [];
  for (let b0 = 0; b0 < B; b0 += rows) {
    const nb = Math.min(rows, B - b0);
    const slice = (t: tf.Tensor, first: number, count: number) =>
      tf.slice(t, [first, ...t.shape.slice(1).map(() => 0)], [count, ...t.shape.slice(1)]);
    chunks.push({
      b0,
      nb,
      ctx: {
        B: nb,
        T,
        cos: slice(ctx.cos, b0 * T, nb * T), // (nb·T, 1, d)
        sin: slice(ctx.sin, b0 * T, nb * T),
        // one mask per packed row when prompts are shared, else one causal mask for all rows
        mask: ctx.mask && ctx.mask.shape[0] === B ? slice(ctx.mask, b0, nb) : ctx.mask ? tf.clone(ctx.mask) : null,
        fused: ctx.fused ? { bias: ctx.fused.bias ? slice(ctx.fused.bias, b0, nb) : null } : null,
      },
    });
  }
  return chunks;
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
   * Gradients by parameter name, given the head's (lm-head.ts's headBackward, called here: dh
   * (M, C), disposed here; dW (V·C), consumed). Consumes the saved activations.
   */
  backward(headGrads: () => { dh: tf.Tensor2D; dW: Float32Array }): Map<string, tf.Tensor>;
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
  const backward = (headGrads: () => { dh: tf.Tensor2D; dW: Float32Array }): Map<string, tf.Tensor> => {
    if (consumed) throw new Error("backward() was already called (or the pass was disposed)");
    consumed = true;
    const V = c.vocabSize,
      C = c.nEmbd;
    // The embedding's (V, C) gradient is uploaded last, when the layers' chunks and gradients
    // have cut the free wasm heap into pieces too small for it, so the heap grew by its size
    // every time (wasm heaps never shrink). A slot of that size is taken now, while the heap
    // still has one, and freed just before the upload, which then lands in it.
    let slot: tf.Tensor | null = tf.zeros([V, C]);
    const freeSlot = () => {
      slot?.dispose();
      slot = null;
    };
    let head: { dh: tf.Tensor2D; dW: Float32Array } | null = null;
    try {
      head = headGrads();
      return backwardPass(model, pk, ctx, inputs, head.dh, head.dW, freeSlot);
    } finally {
      freeSlot();
      head?.dh.dispose();
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
  freeSlot: () => void,
): Map<string, tf.Tensor> {
  const c = model.config;
  const C = c.nEmbd,
    V = c.vocabSize,
    N = pk.B * pk.T;
  const grads = new Map<string, tf.Tensor>();
  const P = (n: string) => model.getParam(n);
  try {
    // an untied head's gradient is complete already: uploaded before the layers cut up the heap
    if (!c.tieWordEmbeddings) grads.set("lm_head.weight", tf.tensor2d(dHead, [V, C]));
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
    const chunks = backwardChunks(model, pk, ctx);
    try {
      for (let l = c.nLayer - 1; l >= 0; l--) {
        const names = layerParamNames(c, l);
        const w = names.map((n) => P(n));
        const dy = dx;
        const g = layerBackward(c, inputs[l], dy, w, chunks);
        dy.dispose();
        inputs[l + 1].dispose();
        dx = g[0] as tf.Tensor2D;
        names.forEach((n, i) => grads.set(n, g[i + 1]));
      }
    } finally {
      for (const ch of chunks) if (ch.ctx !== ctx) disposeContext(ch.ctx);
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
    freeSlot();
    grads.set("model.embed_tokens.weight", tf.tensor2d(dE, [V, C]));
  } catch (e) {
    for (const g of grads.values()) g.dispose();
    throw e;
  }
  for (const n of model.paramNames()) if (!grads.has(n)) throw new Error(`internal: no gradient for ${n}`);
  return grads;
}

/**
 * [dx, ...dW] of one decoder layer, recomputed from its input under tf.grads one chunk of packed
 * rows at a time (each chunk's intermediates freed before the next); weight gradients summed.
 */
function layerBackward(c: LlamaModel["config"], x: tf.Tensor2D, dy: tf.Tensor2D, w: tf.Tensor[], chunks: Chunk[]): tf.Tensor[] {
  const layer =
    (ctx: LayerContext) =>
    (xc: tf.Tensor, ...ws: tf.Tensor[]) =>
      decoderLayer(c, xc as tf.Tensor2D, ws, ctx);
  if (chunks.length === 1) return tf.tidy(() => tf.grads(layer(chunks[0].ctx))([x, ...w], dy));
  const T = chunks[0].ctx.T;
  const C = x.shape[1];
  const dxs: tf.Tensor[] = [];
  let dW: tf.Tensor[] | null = null;
  try {
    for (const ch of chunks) {
      const prev: tf.Tensor[] | null = dW;
      const r = tf.tidy((): { dxc: tf.Tensor; dW: tf.Tensor[] } => {
        const rows = (t: tf.Tensor2D) => tf.slice(t, [ch.b0 * T, 0], [ch.nb * T, C]);
        const [dxc, ...dWc] = tf.grads(layer(ch.ctx))([rows(x), ...w], rows(dy));
        return { dxc, dW: prev ? dWc.map((g, i) => tf.add(prev[i], g)) : dWc };
      });
      for (const t of prev ?? []) t.dispose();
      dW = r.dW;
      dxs.push(r.dxc);
    }
    const dx = tf.concat(dxs, 0); // (B·T, C), chunks in row order
    return [dx, ...dW!];
  } catch (e) {
    for (const t of dW ?? []) t.dispose();
    throw e;
  } finally {
    for (const t of dxs) t.dispose();
  }
}
