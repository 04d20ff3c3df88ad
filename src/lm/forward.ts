// long file: GPT-2's forward pass and its hand-written backward share one saved-activation layout and read best side by side; the LM head is lm-head.ts, the Llama layers llama/forward.ts.
// Full-sequence forward pass and its hand-written backward pass. Scoring and training share
// it: only the positions that predict completion tokens go through the LM head (prompt
// positions are masked out of the log-probs anyway), so the head costs half as much in the
// DPO shape, and the head runs a block at a time (lm-head.ts), never holding the whole
// (rows, vocabulary) logits. Right padding is harmless because attention is causal; rows may
// hold several completions of one prompt (see pack.ts).
import * as tf from "@tensorflow/tfjs-core";
import type { CausalLM } from "./causal.ts";
import { llamaForwardSaved, llamaHeadInput } from "./llama/forward.ts";
import type { LlamaModel } from "./llama/model.ts";
import { forEachLogSoftmaxRow, headBackward, headLogprobs } from "./lm-head.ts";
import type { GPT } from "./model.ts";

export type { ScoreItem } from "./pack.ts";

import { type AttnSaved, attentionBackward, attentionForward, disposeAttnSaved } from "./attention.ts";
import { fusedAttentionAvailable } from "./native-fused.ts";
import { colSum, gatherRows, gelu, geluBackward, type LNSaved, layerNorm, layerNormBackward, linear, weightGrad } from "./ops.ts";
import { type Packed, pack, type ScoreItem } from "./pack.ts";

interface LayerSaved {
  ln1: LNSaved;
  h1: tf.Tensor2D;
  attn: AttnSaved;
  att: tf.Tensor2D;
  ln2: LNSaved;
  h2: tf.Tensor2D;
  u: tf.Tensor2D;
  g: tf.Tensor2D;
}

interface Forward {
  hSel: tf.Tensor2D; // (M, C): the final hidden state of the scored rows, the LM head's input
  lnf: LNSaved;
  layers: LayerSaved[];
}

/** Must run inside tf.tidy. */
function forward(model: GPT, pk: Packed, save: boolean): Forward {
  const c = model.config;
  const { B, T } = pk;
  const P = (n: string) => model.getParam(n);
  let x = tf.add(
    gatherRows(P("transformer.wte.weight") as tf.Tensor2D, pk.ids),
    gatherRows(P("transformer.wpe.weight") as tf.Tensor2D, pk.pos),
  ) as tf.Tensor2D; // (B*T, C)
  const layers: LayerSaved[] = [];
  // the tree mask, uploaded once for every layer's fused attention (freed with this pass's scope)
  const bias = pk.bias && fusedAttentionAvailable() ? tf.tensor3d(pk.bias, [B, T, T]) : pk.bias;
  for (let l = 0; l < c.nLayer; l++) {
    const p = `transformer.h.${l}.`;
    let attn: AttnSaved | null = null;
    // one scope per block so its temporaries are freed now, not at the end of the whole pass
    const block = () =>
      tf.tidy(() => {
        const ln1 = layerNorm(x, P(`${p}ln_1.weight`), P(`${p}ln_1.bias`), c.layerNormEpsilon);
        const qkv = linear(ln1.y, P(`${p}attn.c_attn.weight`), P(`${p}attn.c_attn.bias`)); // (B*T, 3C)
        const a = attentionForward(qkv, B, T, c.nHead, save, bias);
        attn = a.saved;
        const x1 = tf.add(x, linear(a.out, P(`${p}attn.c_proj.weight`), P(`${p}attn.c_proj.bias`))) as tf.Tensor2D;
        const ln2 = layerNorm(x1, P(`${p}ln_2.weight`), P(`${p}ln_2.bias`), c.layerNormEpsilon);
        const u = linear(ln2.y, P(`${p}mlp.c_fc.weight`), P(`${p}mlp.c_fc.bias`)); // (B*T, 4C)
        const g = gelu(u);
        const x2 = tf.add(x1, linear(g, P(`${p}mlp.c_proj.weight`), P(`${p}mlp.c_proj.bias`))) as tf.Tensor2D;
        if (!save) return { x: x2 };
        return {
          x: x2,
          xhat1: ln1.saved.xhat,
          rstd1: ln1.saved.rstd,
          h1: ln1.y,
          att: a.out,
          xhat2: ln2.saved.xhat,
          rstd2: ln2.saved.rstd,
          h2: ln2.y,
          u,
          g,
        };
      });
    let r: ReturnType<typeof block>;
    try {
      r = block();
    } catch (e) {
      // attention keeps its tensors outside the tidy scopes: release them on the way out
      for (const s of [...layers.map((ls) => ls.attn), attn as AttnSaved | null]) if (s) disposeAttnSaved(s);
      throw e;
    }
    x.dispose(); // the block input is not needed by the backward pass (LayerNorm keeps xhat)
    x = r.x;
    if (save) {
      const q = r as Required<typeof r>;
      layers.push({
        ln1: { xhat: q.xhat1, rstd: q.rstd1 },
        h1: q.h1,
        attn: attn!,
        att: q.att,
        ln2: { xhat: q.xhat2, rstd: q.rstd2 },
        h2: q.h2,
        u: q.u,
        g: q.g,
      });
    }
  }
  const lnf = layerNorm(x, P("transformer.ln_f.weight"), P("transformer.ln_f.bias"), c.layerNormEpsilon);
  const hSel = gatherRows(lnf.y, pk.sel); // (M, C)
  return { hSel, lnf: lnf.saved, layers };
}

/** The LM head's input (M, C) for the scored rows of a packed batch, either architecture (caller disposes). No gradients. */
function headInput(model: CausalLM, pk: Packed): tf.Tensor2D {
  if (model.arch === "llama") return llamaHeadInput(model, pk);
  return tf.tidy(() => forward(model, pk, false).hSel);
}

/** Per-item dLoss/dlogp spread onto the scored rows it sums. */
function rowGrads(pk: Packed, dlogps: Float64Array): Float64Array {
  return Float64Array.from(pk.itemOf, (i) => dlogps[i]);
}

/**
 * Summed and per-token log-probs of the completion tokens only (prompt masked), one causal
 * forward pass per item, items batched (right-padded) `batchSize` at a time. No gradients.
 */
export function scoreCompletions(
  model: CausalLM,
  items: ScoreItem[],
  opts: { batchSize?: number } = {},
): { sum: number[]; perToken: number[][] } {
  const bs = Math.max(1, opts.batchSize ?? 16);
  const sum: number[] = [];
  const perToken: number[][] = [];
  for (let s = 0; s < items.length; s += bs) {
    const chunk = items.slice(s, s + bs);
    const pk = pack(model, chunk);
    const h = headInput(model, pk);
    let lp: Float64Array;
    try {
      lp = headLogprobs(model, h, pk.targets).logp;
    } finally {
      h.dispose();
    }
    // scored rows come grouped by shared prompt; within an item they are in token order
    const rows: number[][] = chunk.map(() => []);
    for (let m = 0; m < lp.length; m++) rows[pk.itemOf[m]].push(lp[m]);
    for (const row of rows) {
      perToken.push(row);
      sum.push(row.reduce((a, x) => a + x, 0));
    }
  }
  return { sum, perToken };
}

/**
 * The model's full next-token log-distribution at every completion position: for each item a
 * (completionLength × V) row-major array of log-softmax rows, in token order (row t predicts
 * completion token t). Exact per-token KL between two models along the same sequences needs
 * these; summed log-probs alone only give the Monte Carlo estimate. No gradients.
 */
export function nextTokenLogprobs(model: CausalLM, items: ScoreItem[], opts: { batchSize?: number } = {}): Float32Array[] {
  const bs = Math.max(1, opts.batchSize ?? 16);
  const V = model.config.vocabSize;
  const out: Float32Array[] = [];
  for (let s = 0; s < items.length; s += bs) {
    const chunk = items.slice(s, s + bs);
    const pk = pack(model, chunk);
    const rows = chunk.map((it) => new Float32Array(it.completionIds.length * V));
    const filled = new Int32Array(chunk.length);
    const h = headInput(model, pk);
    try {
      // scored rows come grouped by shared prompt; within an item they are in token order
      forEachLogSoftmaxRow(model, h, (row, m) => {
        const item = pk.itemOf[m];
        rows[item].set(row, filled[item]++ * V);
      });
    } finally {
      h.dispose();
    }
    out.push(...rows);
  }
  return out;
}

export type LossFn = (logps: Float64Array, lengths: Int32Array) => { loss: number; dlogps: Float64Array };

/** A forward pass whose activations are kept for one backward pass (or released by dispose). */
export interface PendingGrads {
  /** Summed completion log-probs per item. */
  logps: Float64Array;
  /** Completion token counts per item. */
  lengths: Int32Array;
  /** Backpropagates dLoss/dlogp per item; consumes the saved activations. Caller disposes the grads. */
  backward(dlogps: Float64Array): Map<string, tf.Tensor>;
  dispose(): void;
}

/**
 * First half of `logprobGrads`: the forward pass with activations saved. Split out so a
 * caller can combine log-probs from several forward passes (e.g. data-parallel shards)
 * before deciding the loss.
 */
export function forwardWithGrad(model: CausalLM, items: ScoreItem[]): PendingGrads {
  if (model.arch === "llama") return llamaForwardWithGrad(model, items);
  const pk = pack(model, items);
  let attn: AttnSaved[] = [];
  const saved = tf.tidy(() => {
    const fw = forward(model, pk, true);
    attn = fw.layers.map((l) => l.attn);
    return {
      hSel: fw.hSel,
      lnf: [fw.lnf.xhat, fw.lnf.rstd],
      layers: fw.layers.map((l) => [l.ln1.xhat, l.ln1.rstd, l.h1, l.att, l.ln2.xhat, l.ln2.rstd, l.h2, l.u, l.g]),
    };
  });
  const all = () => [saved.hSel, ...saved.lnf, ...saved.layers.flat()];
  const release = () => {
    for (const t of all()) t.dispose();
    for (const a of attn) disposeAttnSaved(a);
  };
  let head: { logp: Float64Array; lse: Float64Array };
  try {
    head = headLogprobs(model, saved.hSel, pk.targets);
  } catch (e) {
    release();
    throw e;
  }
  const logps = new Float64Array(pk.nItems);
  for (let m = 0; m < head.logp.length; m++) logps[pk.itemOf[m]] += head.logp[m];
  let consumed = false;
  const backward = (dlogps: Float64Array): Map<string, tf.Tensor> => {
    if (consumed) throw new Error("backward() was already called (or the pass was disposed)");
    consumed = true;
    try {
      if (!(dlogps instanceof Float64Array) || dlogps.length !== pk.nItems)
        throw new Error(`dlogps must be a Float64Array of length ${pk.nItems}`);
      const hd = headBackward(model, saved.hSel, pk.targets, head.lse, rowGrads(pk, dlogps));
      return backwardPass(model, pk, hd, attn, saved);
    } finally {
      release();
    }
  };
  return {
    logps,
    lengths: pk.lengths,
    backward,
    dispose: () => {
      consumed = true;
      release();
    },
  };
}

/** Backpropagates the head's gradients (dh of the scored rows; dW, a JS array, consumed) through the blocks and embeddings. */
function backwardPass(
  model: GPT,
  pk: Packed,
  head: { dh: tf.Tensor2D; dW: Float32Array },
  attn: AttnSaved[],
  saved: { hSel: tf.Tensor2D; lnf: tf.Tensor2D[]; layers: tf.Tensor2D[][] },
): Map<string, tf.Tensor> {
  const c = model.config;
  const V = c.vocabSize;
  const C = c.nEmbd;
  const { B, T } = pk;
  const names: string[] = [];
  const tensors = tf.tidy(() => {
    const P = (n: string) => model.getParam(n);
    const grads = new Map<string, tf.Tensor>();
    // scatter the scored rows back to (B*T, C); unscored rows get no gradient from the head
    const dhSelData = head.dh.dataSync() as Float32Array;
    head.dh.dispose();
    const dhfData = new Float32Array(B * T * C);
    // a row shared by several completions (the last prompt position) collects all their gradients
    pk.sel.forEach((r, m) => {
      for (let j = 0; j < C; j++) dhfData[r * C + j] += dhSelData[m * C + j];
    });
    const dhf = tf.tensor2d(dhfData, [B * T, C]);
    const f = layerNormBackward(dhf, { xhat: saved.lnf[0], rstd: saved.lnf[1] }, P("transformer.ln_f.weight"));
    grads.set("transformer.ln_f.weight", f.dg).set("transformer.ln_f.bias", f.db);
    let dx = f.dx;
    for (let l = c.nLayer - 1; l >= 0; l--) {
      const p = `transformer.h.${l}.`;
      const [xhat1, rstd1, h1, att, xhat2, rstd2, h2, u, gOut] = saved.layers[l];
      const dxIn = dx;
      const r = tf.tidy(() => {
        let dx = dxIn;
        const g: tf.Tensor[] = [];
        // MLP: x += gelu(ln2(x) @ Wfc + bfc) @ Wmp + bmp
        g.push(weightGrad(gOut, dx), colSum(dx));
        const du = geluBackward(model.matMulWeightT(dx, `${p}mlp.c_proj.weight`), u);
        g.push(weightGrad(h2, du), colSum(du));
        const l2 = layerNormBackward(model.matMulWeightT(du, `${p}mlp.c_fc.weight`), { xhat: xhat2, rstd: rstd2 }, P(`${p}ln_2.weight`));
        g.push(l2.dg, l2.db);
        dx = tf.add(dx, l2.dx) as tf.Tensor2D;
        // attention: x += attn(ln1(x)) @ Wproj + bproj
        g.push(weightGrad(att, dx), colSum(dx));
        const dqkv = attentionBackward(model.matMulWeightT(dx, `${p}attn.c_proj.weight`), attn[l]);
        g.push(weightGrad(h1, dqkv), colSum(dqkv));
        const l1 = layerNormBackward(
          model.matMulWeightT(dqkv, `${p}attn.c_attn.weight`),
          { xhat: xhat1, rstd: rstd1 },
          P(`${p}ln_1.weight`),
        );
        g.push(l1.dg, l1.db);
        return { dx: tf.add(dx, l1.dx) as tf.Tensor2D, g };
      });
      BLOCK_PARAMS.forEach((n, i) => grads.set(p + n, r.g[i]));
      // this block's saved activations are no longer needed
      for (const t of saved.layers[l]) t.dispose();
      disposeAttnSaved(attn[l]);
      dx.dispose();
      dx = r.dx;
    }
    // embeddings: a scatter-add in JS (gather's gradient kernel is missing on wasm), into the
    // tied head's gradient so one (V, C) tensor is uploaded
    const dxd = dx.dataSync() as Float32Array;
    const dwte = head.dW;
    for (let r = 0; r < B * T; r++) {
      const src = r * C;
      const dst = pk.ids[r] * C;
      for (let j = 0; j < C; j++) dwte[dst + j] += dxd[src + j];
    }
    grads.set("transformer.wte.weight", tf.tensor2d(dwte, [V, C]));
    const dwpe = new Float32Array(c.nPositions * C);
    for (let r = 0; r < B * T; r++) {
      const src = r * C;
      const dst = pk.pos[r] * C;
      for (let j = 0; j < C; j++) dwpe[dst + j] += dxd[src + j];
    }
    grads.set("transformer.wpe.weight", tf.tensor2d(dwpe, [c.nPositions, C]));
    for (const n of model.paramNames()) {
      if (!grads.has(n)) throw new Error(`internal: no gradient for ${n}`);
      names.push(n);
    }
    return names.map((n) => grads.get(n)!);
  });
  const grads = new Map<string, tf.Tensor>();
  names.forEach((n, i) => grads.set(n, tensors[i]));
  return grads;
}

const BLOCK_PARAMS = [
  "mlp.c_proj.weight",
  "mlp.c_proj.bias",
  "mlp.c_fc.weight",
  "mlp.c_fc.bias",
  "ln_2.weight",
  "ln_2.bias",
  "attn.c_proj.weight",
  "attn.c_proj.bias",
  "attn.c_attn.weight",
  "attn.c_attn.bias",
  "ln_1.weight",
  "ln_1.bias",
];

/**
 * Forward the items, hand their summed completion log-probs to `lossFn`, and backpropagate
 * dLoss/dlogp through the model. Gradients are returned by parameter name (caller disposes).
 */
export function logprobGrads(
  model: CausalLM,
  items: ScoreItem[],
  lossFn: LossFn,
): { loss: number; logps: Float64Array; grads: Map<string, tf.Tensor> } {
  const pending = forwardWithGrad(model, items);
  let res: { loss: number; dlogps: Float64Array };
  try {
    res = lossFn(pending.logps, pending.lengths);
  } catch (e) {
    pending.dispose();
    throw e;
  }
  if (!(res.dlogps instanceof Float64Array) || res.dlogps.length !== items.length) {
    pending.dispose();
    throw new Error(`lossFn must return dlogps as a Float64Array of length ${items.length}`);
  }
  const grads = pending.backward(res.dlogps);
  return { loss: res.loss, logps: pending.logps, grads };
}

/** forwardWithGrad for a Llama-family model: the LM head is shared (lm-head.ts), the layers are llama/forward.ts's. */
function llamaForwardWithGrad(model: LlamaModel, items: ScoreItem[]): PendingGrads {
  const pk = pack(model, items);
  const fw = llamaForwardSaved(model, pk);
  let head: { logp: Float64Array; lse: Float64Array };
  try {
    head = headLogprobs(model, fw.hSel, pk.targets);
  } catch (e) {
    fw.dispose();
    throw e;
  }
  const logps = new Float64Array(pk.nItems);
  for (let m = 0; m < head.logp.length; m++) logps[pk.itemOf[m]] += head.logp[m];
  let consumed = false;
  return {
    logps,
    lengths: pk.lengths,
    backward: (dlogps: Float64Array) => {
      if (consumed) throw new Error("backward() was already called (or the pass was disposed)");
      consumed = true;
      if (!(dlogps instanceof Float64Array) || dlogps.length !== pk.nItems) {
        fw.dispose();
        throw new Error(`dlogps must be a Float64Array of length ${pk.nItems}`);
      }
      return fw.backward(() => headBackward(model, fw.hSel, pk.targets, head.lse, rowGrads(pk, dlogps)));
    },
    dispose: () => {
      consumed = true;
      fw.dispose();
    },
  };
}
