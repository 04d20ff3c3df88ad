// Fused pieces with hand-written backward passes. Every matMul the model issues goes
// through `mm` (plain NN) or, where `transposedMatMulsFast()` says so, through `mmT`.
import * as tf from "@tensorflow/tfjs-core";
import { enableNativeGemm } from "./native.ts";
import { fusedAttentionAvailable, fusedGelu, fusedGeluBackward, fusedLayerNorm, fusedLayerNormBackward } from "./native-fused.ts";

const layoutByBackend = new Map<string, boolean>();

/**
 * Whether transposed and batched matMuls run as fast as plain 2-D NN ones on the active
 * backend: true on cpu/tensorflow and on wasm with the native GEMM installed; false on wasm
 * with XNNPACK alone (0.6–2 GFLOP/s on those). Decided once per backend, at its first use
 * (`enableNativeGemm` is idempotent and is what backend init already called), so the layout a
 * model's pass uses does not change under it. Without fast transposes the old layout is used:
 * explicit transposes and cached Wᵀ copies that keep every product NN.
 */
export function transposedMatMulsFast(): boolean {
  const backend = tf.getBackend();
  let fast = layoutByBackend.get(backend);
  if (fast === undefined) {
    fast = backend !== "wasm" || enableNativeGemm(backend).enabled;
    layoutByBackend.set(backend, fast);
  }
  return fast;
}

/** a·b with either operand transposed in the kernel (no transpose copy). */
export function mmT(a: tf.Tensor2D, b: tf.Tensor2D, transposeA: boolean, transposeB: boolean): tf.Tensor2D {
  return tf.matMul(a, b, transposeA, transposeB) as tf.Tensor2D;
}

export function mm(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return tf.matMul(a, b) as tf.Tensor2D;
}

/** x @ W + b for a (rows, in) input and a Conv1D-layout (in, out) weight. */
export function linear(x: tf.Tensor2D, w: tf.Tensor, b: tf.Tensor): tf.Tensor2D {
  return tf.add(mm(x, w as tf.Tensor2D), b) as tf.Tensor2D;
}

/** Column sums of a (rows, cols) matrix. tfjs reduces axis 0 by transposing first, and on
 *  XNNPACK a ones-vector matMul re-packs the whole matrix as weights, so without fast
 *  transposed matMuls this sums in JS; with them it is xᵀ·1, read transposed by the kernel. */
export function colSum(x: tf.Tensor2D): tf.Tensor1D {
  const [rows, cols] = x.shape;
  if (transposedMatMulsFast()) return tf.tidy(() => tf.reshape(mmT(x, tf.ones([rows, 1]), true, false), [cols]));
  const src = x.dataSync() as Float32Array;
  const acc = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j = 0; j < cols; j++) acc[j] += src[o + j];
  }
  return tf.tensor1d(Float32Array.from(acc));
}

/** Rows of a (rows, cols) matrix picked by index, as a JS copy (tfjs Gather is slow on wasm). */
export function gatherRows(x: tf.Tensor2D, idx: Int32Array): tf.Tensor2D {
  const cols = x.shape[1];
  const src = x.dataSync() as Float32Array;
  const out = new Float32Array(idx.length * cols);
  for (let i = 0; i < idx.length; i++) out.set(src.subarray(idx[i] * cols, (idx[i] + 1) * cols), i * cols);
  return tf.tensor2d(out, [idx.length, cols]);
}

export interface LNSaved {
  xhat: tf.Tensor2D;
  rstd: tf.Tensor2D;
}

export function layerNorm(x: tf.Tensor2D, g: tf.Tensor, b: tf.Tensor, eps: number): { y: tf.Tensor2D; saved: LNSaved } {
  if (fusedAttentionAvailable()) {
    // one native pass instead of 9 kernels
    const { y, xhat, rstd } = fusedLayerNorm(x, g, b, eps);
    return { y, saved: { xhat, rstd } };
  }
  const mean = tf.mean(x, 1, true);
  const xc = tf.sub(x, mean);
  const variance = tf.mean(tf.square(xc), 1, true);
  const rstd = tf.rsqrt(tf.add(variance, eps)) as tf.Tensor2D;
  const xhat = tf.mul(xc, rstd) as tf.Tensor2D;
  const y = tf.add(tf.mul(xhat, g), b) as tf.Tensor2D;
  return { y, saved: { xhat, rstd } };
}

export function layerNormBackward(dy: tf.Tensor2D, s: LNSaved, g: tf.Tensor): { dx: tf.Tensor2D; dg: tf.Tensor; db: tf.Tensor } {
  if (fusedAttentionAvailable()) return fusedLayerNormBackward(dy, s.xhat, s.rstd, g);
  const dg = colSum(tf.mul(dy, s.xhat) as tf.Tensor2D);
  const db = colSum(dy);
  const dxhat = tf.mul(dy, g);
  const m1 = tf.mean(dxhat, 1, true);
  const m2 = tf.mean(tf.mul(dxhat, s.xhat), 1, true);
  const dx = tf.mul(s.rstd, tf.sub(tf.sub(dxhat, m1), tf.mul(s.xhat, m2))) as tf.Tensor2D;
  return { dx, dg, db };
}

// gelu_new (tanh approximation) written as u·σ(2z): identical maths, and sigmoid runs
// ~6× faster than tanh on the wasm backend.
const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

export function gelu(u: tf.Tensor2D): tf.Tensor2D {
  if (fusedAttentionAvailable()) return fusedGelu(u) as tf.Tensor2D; // one native pass instead of 7 kernels
  const z2 = tf.mul(tf.add(u, tf.mul(tf.mul(tf.square(u), u), GELU_A)), 2 * GELU_C);
  return tf.mul(u, tf.sigmoid(z2)) as tf.Tensor2D;
}

export function geluBackward(dg: tf.Tensor2D, u: tf.Tensor2D): tf.Tensor2D {
  if (fusedAttentionAvailable()) return fusedGeluBackward(dg, u) as tf.Tensor2D;
  const u2 = tf.square(u);
  const s = tf.sigmoid(tf.mul(tf.add(u, tf.mul(tf.mul(u2, u), GELU_A)), 2 * GELU_C));
  // d/du [u σ(2z)] = σ + u σ(1-σ) · 2c(1 + 3a u²)
  const dz = tf.add(tf.mul(u2, 3 * GELU_A * 2 * GELU_C), 2 * GELU_C);
  const deriv = tf.add(s, tf.mul(tf.mul(u, tf.mul(s, tf.sub(1, s))), dz));
  return tf.mul(dg, deriv) as tf.Tensor2D;
}

/** dW = Xᵀ·dY: transposed in the kernel when that is fast, else one explicit transpose and an NN matMul. */
export function weightGrad(x: tf.Tensor2D, dy: tf.Tensor2D): tf.Tensor2D {
  return transposedMatMulsFast() ? mmT(x, dy, true, false) : mm(tf.transpose(x), dy);
}

/** Host rows x (rows, in) @ w (in, out) on the backend, read back to JS as a fresh (rows, out) array (the decode steps).
 * Not returned through tf.tidy: callers walk the typed array element by element. */
export function matMulRead(x: Float32Array, rows: number, w: tf.Tensor): Float32Array {
  const y = tf.tidy(() => tf.matMul(tf.tensor2d(x, [rows, w.shape[0]]), w as tf.Tensor2D));
  try {
    return y.dataSync() as Float32Array;
  } finally {
    y.dispose();
  }
}

/** Cache-friendly blocked transpose of a row-major (rows, cols) matrix. */
export function transposeJS(a: Float32Array, rows: number, cols: number, out = new Float32Array(rows * cols)): Float32Array {
  const BS = 32;
  for (let i0 = 0; i0 < rows; i0 += BS) {
    const i1 = Math.min(rows, i0 + BS);
    for (let j0 = 0; j0 < cols; j0 += BS) {
      const j1 = Math.min(cols, j0 + BS);
      for (let i = i0; i < i1; i++) {
        const ro = i * cols;
        for (let j = j0; j < j1; j++) out[j * rows + i] = a[ro + j];
      }
    }
  }
  return out;
}
