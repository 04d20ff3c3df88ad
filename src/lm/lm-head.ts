// The LM head and the log-prob of each scored row's target token, a block at a time: the
// (rows, vocabulary) logits and their gradient never exist whole. At the SmolLM2-135M shape one
// DPO step scores 1,024 rows against 49,152 tokens, 201 MB per float32 copy of the logits, and
// the unblocked pass kept several (the product, its JS copy turned into probabilities, the
// uploaded gradient) on top of the weights, gradients and optimizer state.
//
// Forward (scoring and training) works in row blocks: each block's logits give every row's
// log-sum-exp and target logit, and only those per-row scalars are kept. Backward recomputes the
// logits in vocabulary blocks from the kept hidden rows and log-sum-exps: each block's gradient
// dlogits = w·(onehot(target) − softmax) yields its own disjoint slice of dW (so nothing the size
// of W is summed block after block) and a (rows, C) term of dh. The recomputation costs one more
// head-sized matMul per step; the exponentials are the same count as before.
import * as tf from "@tensorflow/tfjs-core";
import type { CausalLM } from "./causal.ts";
import { mm, mmT, transposedMatMulsFast, weightGrad } from "./ops.ts";

/** Elements of one block of logits by default: 2^23 float32 = 32 MB (170 rows of a 49,152-token vocabulary). */
export const HEAD_BLOCK_ELEMENTS = 1 << 23;
let blockElements = HEAD_BLOCK_ELEMENTS;

/**
 * Sets how many logits one block may hold (tests use a few rows' worth so every pass splits into
 * uneven blocks); returns the previous value.
 */
export function setHeadBlockElements(n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new Error(`head block elements must be a positive integer, got ${n}`);
  const prev = blockElements;
  blockElements = n;
  return prev;
}

export interface HeadOptions {
  /** rows per forward block (default: block elements / vocabulary) */
  blockRows?: number;
  /** vocabulary columns per backward block (default: block elements / rows) */
  blockCols?: number;
}

/** The (V, C) matrix a model reads its logits from (GPT-2 and tied Llama heads: the embedding). */
export function headWeightName(model: CausalLM): string {
  return model.arch === "llama" ? model.headName : "transformer.wte.weight";
}

function rowsPerBlock(V: number, M: number, opts: HeadOptions): number {
  const r = opts.blockRows ?? Math.max(1, Math.floor(blockElements / Math.max(1, V)));
  if (!Number.isInteger(r) || r < 1) throw new Error(`blockRows must be a positive integer, got ${r}`);
  return Math.min(r, Math.max(1, M));
}

/**
 * Calls `fn` with the logits of consecutive row blocks of h·Wᵀ (h: (M, C) hidden rows), as
 * row-major (rows, V) arrays that `fn` may overwrite; only one block exists at a time.
 */
export function forEachLogitsBlock(
  model: CausalLM,
  h: tf.Tensor2D,
  fn: (logits: Float32Array, firstRow: number, rows: number) => void,
  opts: HeadOptions = {},
): void {
  const [M, C] = h.shape;
  const name = headWeightName(model);
  const R = rowsPerBlock(model.config.vocabSize, M, opts);
  for (let r0 = 0; r0 < M; r0 += R) {
    const rows = Math.min(R, M - r0);
    const lt = tf.tidy(() => model.matMulWeightT(rows === M ? h : tf.slice(h, [r0, 0], [rows, C]), name)); // (rows, V)
    let data: Float32Array;
    try {
      data = lt.dataSync() as Float32Array;
    } finally {
      lt.dispose();
    }
    fn(data, r0, rows);
  }
}

/** log Σ exp over one row of logits, in float64. */
function logSumExp(logits: Float32Array, o: number, V: number): number {
  let mx = -Infinity;
  for (let v = 0; v < V; v++) if (logits[o + v] > mx) mx = logits[o + v];
  let sum = 0;
  for (let v = 0; v < V; v++) sum += Math.exp(logits[o + v] - mx);
  return mx + Math.log(sum);
}

/**
 * Per row of h (M, C): log p(targets[m]) under softmax(h·Wᵀ), and the row's log-sum-exp (what
 * `headBackward` needs to recompute the softmax). No gradients; nothing (M, V) is kept.
 */
export function headLogprobs(
  model: CausalLM,
  h: tf.Tensor2D,
  targets: Int32Array,
  opts: HeadOptions = {},
): { logp: Float64Array; lse: Float64Array } {
  const M = h.shape[0];
  if (targets.length !== M) throw new Error(`headLogprobs: ${targets.length} targets for ${M} rows`);
  const V = model.config.vocabSize;
  const logp = new Float64Array(M);
  const lse = new Float64Array(M);
  forEachLogitsBlock(
    model,
    h,
    (logits, r0, rows) => {
      for (let i = 0; i < rows; i++) {
        const m = r0 + i;
        const o = i * V;
        lse[m] = logSumExp(logits, o, V);
        logp[m] = logits[o + targets[m]] - lse[m];
      }
    },
    opts,
  );
  return { logp, lse };
}

/**
 * Calls `fn` with each row's full log-softmax (V values, valid during the call only), in row
 * order, a block of rows at a time.
 */
export function forEachLogSoftmaxRow(
  model: CausalLM,
  h: tf.Tensor2D,
  fn: (row: Float32Array, m: number) => void,
  opts: HeadOptions = {},
): void {
  const V = model.config.vocabSize;
  forEachLogitsBlock(
    model,
    h,
    (logits, r0, rows) => {
      for (let i = 0; i < rows; i++) {
        const o = i * V;
        const l = logSumExp(logits, o, V);
        for (let v = 0; v < V; v++) logits[o + v] -= l;
        fn(logits.subarray(o, o + V), r0 + i);
      }
    },
    opts,
  );
}

/**
 * The gradient of Σ_m rowGrad[m]·log p(targets[m]) with respect to the hidden rows h (M, C) and
 * the head weight W (V, C), the softmax recomputed from `lse` (headLogprobs) a vocabulary block at
 * a time. dW comes back as a JS array (V·C, row-major) so the caller can add the embedding's
 * scatter-add into it before uploading one tensor; dh is a tensor the caller disposes.
 */
export function headBackward(
  model: CausalLM,
  h: tf.Tensor2D,
  targets: Int32Array,
  lse: Float64Array,
  rowGrad: ArrayLike<number>,
  opts: HeadOptions = {},
): { dh: tf.Tensor2D; dW: Float32Array } {
  const [M, C] = h.shape;
  const V = model.config.vocabSize;
  if (targets.length !== M || lse.length !== M || rowGrad.length !== M)
    throw new Error(`headBackward: ${M} rows but ${targets.length} targets, ${lse.length} log-sum-exps, ${rowGrad.length} row gradients`);
  const dW = new Float32Array(V * C);
  if (M === 0) return { dh: tf.zeros([0, C]) as tf.Tensor2D, dW };
  const name = headWeightName(model);
  const W = model.getParam(name) as tf.Tensor2D; // (V, C)
  const fast = transposedMatMulsFast();
  const cols = opts.blockCols ?? Math.max(1, Math.floor(blockElements / M));
  if (!Number.isInteger(cols) || cols < 1) throw new Error(`blockCols must be a positive integer, got ${cols}`);
  let dh: tf.Tensor2D | null = null;
  try {
    for (let v0 = 0; v0 < V; v0 += cols) {
      const n = Math.min(cols, V - v0);
      const Wj = n === V ? W : (tf.slice(W, [v0, 0], [n, C]) as tf.Tensor2D); // (n, C)
      try {
        // this block's logits, (M, n)
        const lt = tf.tidy(() => (fast ? mmT(h, Wj, false, true) : mm(h, n === V ? model.weightT(name) : tf.transpose(Wj))));
        const g = lt.dataSync() as Float32Array;
        lt.dispose();
        // d/dlogits of w·log p(target) = w·(onehot(target) − softmax), in place
        for (let m = 0; m < M; m++) {
          const w = rowGrad[m];
          const o = m * n;
          if (w === 0) {
            g.fill(0, o, o + n);
            continue;
          }
          const l = lse[m];
          for (let v = 0; v < n; v++) g[o + v] = -w * Math.exp(g[o + v] - l);
          const t = targets[m] - v0;
          if (t >= 0 && t < n) g[o + t] += w;
        }
        const prev: tf.Tensor2D | null = dh;
        const next = tf.tidy((): { dh: tf.Tensor2D; dWj: tf.Tensor2D } => {
          const dlogits = tf.tensor2d(g, [M, n]);
          const dhj = mm(dlogits, Wj); // (M, C)
          return { dh: prev ? (tf.add(prev, dhj) as tf.Tensor2D) : dhj, dWj: weightGrad(dlogits, h) }; // dWj: (n, C)
        });
        prev?.dispose();
        dh = next.dh;
        const dWj = next.dWj;
        try {
          dW.set(dWj.dataSync() as Float32Array, v0 * C);
        } finally {
          dWj.dispose();
        }
      } finally {
        if (Wj !== W) Wj.dispose();
      }
    }
  } catch (e) {
    (dh as tf.Tensor2D | null)?.dispose();
    throw e;
  }
  return { dh: dh!, dW };
}
