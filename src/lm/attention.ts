// long file: each attention layout's backward reads what its forward saved, so the fused, batched and per-head forward/backward pairs stay together.
// Causal self-attention for full sequences. With the native addon active on wasm, one fused
// kernel reads the heads in place from c_attn's output and skips the masked triangle (native.ts,
// native/gemm/src/attention.cc). Otherwise head split/merge are JS array copies (tfjs
// slice/transpose kernels are slow for rank > 2 on wasm), and where transposed and batched matMuls
// are fast (the native GEMM, cpu, tensorflow; see ops.ts), each product is one batched matMul
// over (batch·heads) with transposes done by the kernel. On wasm with XNNPACK alone a batched
// 3-D matMul is ~7× slower than a loop of small 2-D NN matMuls per (sequence, head), so that
// layout is kept there.
import * as tf from "@tensorflow/tfjs-core";
import { type FusedAttentionAttrs, fusedAttentionAvailable, fusedAttentionBackward, fusedAttentionForward } from "./native-fused.ts";
import { transposedMatMulsFast, transposeJS } from "./ops.ts";

export type AttnSaved = PerHeadSaved | BatchedSaved | FusedSaved;

/** Saved by the fused native kernel (tf.keep'd until `disposeAttnSaved`): the c_attn output
 *  itself, heads in place, and the (B·H, T, T) probabilities. */
interface FusedSaved {
  kind: "fused";
  qkv: tf.Tensor2D;
  p: tf.Tensor3D;
  attrs: FusedAttentionAttrs;
}

/** Saved by the batched layout, kept on the backend (tf.keep) until `disposeAttnSaved`:
 *  (B·H, T, hd) scaled queries, keys, values; (B·H, T, T) probabilities. */
interface BatchedSaved {
  kind: "batched";
  B: number;
  T: number;
  H: number;
  hd: number;
  q: tf.Tensor3D;
  k: tf.Tensor3D;
  v: tf.Tensor3D;
  p: tf.Tensor3D;
}

/** Releases the tensors a batched-layout forward pass kept (idempotent; a no-op for the per-head layout). */
export function disposeAttnSaved(s: AttnSaved): void {
  if (s.kind === "batched") for (const t of [s.q, s.k, s.v, s.p]) t.dispose();
  if (s.kind === "fused") for (const t of [s.qkv, s.p]) t.dispose();
}

interface PerHeadSaved {
  kind: "perHead";
  B: number;
  T: number;
  H: number;
  hd: number;
  /** Per (b, h): scaled queries (T, hd), keys (T, hd), values^T (hd, T), probabilities (T, T). */
  q: Float32Array[];
  k: Float32Array[];
  vT: Float32Array[];
  p: Float32Array[];
}

function t2(a: Float32Array, r: number, c: number): tf.Tensor2D {
  return tf.tensor2d(a, [r, c], "float32");
}

function mmData(a: tf.Tensor2D, b: tf.Tensor2D): Float32Array {
  const o = tf.matMul(a, b);
  const d = o.dataSync() as Float32Array;
  o.dispose();
  return d;
}

/**
 * qkv: (B*T, 3C) from c_attn. Returns the merged head outputs (B*T, C).
 * `bias`, when given, is a (B, T, T) additive mask replacing the plain causal one.
 */
export function attentionForward(
  qkv: tf.Tensor2D,
  B: number,
  T: number,
  H: number,
  save: boolean,
  bias: Float32Array | tf.Tensor | null = null,
): { out: tf.Tensor2D; saved: AttnSaved | null } {
  if (fusedAttentionAvailable()) return forwardFused(qkv, B, T, H, save, bias);
  const b = bias instanceof tf.Tensor ? (bias.dataSync() as Float32Array) : bias;
  return transposedMatMulsFast() ? forwardBatched(qkv, B, T, H, save, b) : forwardPerHead(qkv, B, T, H, save, b);
}

/** dOut: (B*T, C). Returns dqkv (B*T, 3C). */
export function attentionBackward(dOut: tf.Tensor2D, s: AttnSaved): tf.Tensor2D {
  if (s.kind === "fused") return fusedAttentionBackward(s.qkv, s.qkv, s.qkv, s.p, dOut, s.attrs)[0];
  return s.kind === "batched" ? backwardBatched(dOut, s) : backwardPerHead(dOut, s);
}

/**
 * The native fused kernel: reads the heads where c_attn wrote them, skips the masked upper
 * triangle, writes the merged output directly. `bias` is best passed as a tensor made once per
 * pass (every layer shares it).
 */
function forwardFused(
  qkv: tf.Tensor2D,
  B: number,
  T: number,
  H: number,
  save: boolean,
  bias: Float32Array | tf.Tensor | null,
): { out: tf.Tensor2D; saved: FusedSaved | null } {
  const C = qkv.shape[1] / 3;
  const hd = C / H;
  const attrs: FusedAttentionAttrs = { B, T, heads: H, kvHeads: H, headDim: hd, qCol: 0, kCol: C, vCol: 2 * C };
  const bt = bias instanceof Float32Array ? tf.tensor3d(bias, [B, T, T]) : bias;
  try {
    const { out, probs } = fusedAttentionForward(qkv, qkv, qkv, bt, attrs);
    if (!save) {
      probs.dispose();
      return { out, saved: null };
    }
    return { out, saved: { kind: "fused", qkv: tf.keep(qkv), p: tf.keep(probs), attrs } };
  } finally {
    if (bias instanceof Float32Array) bt?.dispose();
  }
}

/** Copies columns [offset, offset + C) of a row-major (B*T, width) array into (B·H, T, hd), times `scale`. */
function splitHeads(
  src: Float32Array,
  B: number,
  T: number,
  H: number,
  hd: number,
  width: number,
  offset: number,
  scale: number,
): Float32Array {
  const out = new Float32Array(B * H * T * hd);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const row = (b * T + t) * width + offset;
      for (let h = 0; h < H; h++) {
        const si = row + h * hd;
        const di = ((b * H + h) * T + t) * hd;
        if (scale === 1) out.set(src.subarray(si, si + hd), di);
        else for (let j = 0; j < hd; j++) out[di + j] = src[si + j] * scale;
      }
    }
  }
  return out;
}

/** Inverse of splitHeads for a (B·H, T, hd) array: writes it into columns [offset, offset + C) of a (B*T, width) array, times `scale`. */
function mergeHeads(
  src: Float32Array,
  dst: Float32Array,
  B: number,
  T: number,
  H: number,
  hd: number,
  width: number,
  offset: number,
  scale: number,
): void {
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const row = (b * T + t) * width + offset;
      for (let h = 0; h < H; h++) {
        const si = ((b * H + h) * T + t) * hd;
        const di = row + h * hd;
        if (scale === 1) dst.set(src.subarray(si, si + hd), di);
        else for (let j = 0; j < hd; j++) dst[di + j] = src[si + j] * scale;
      }
    }
  }
}

function forwardBatched(
  qkv: tf.Tensor2D,
  B: number,
  T: number,
  H: number,
  save: boolean,
  bias: Float32Array | null,
): { out: tf.Tensor2D; saved: BatchedSaved | null } {
  const C = qkv.shape[1] / 3;
  const hd = C / H;
  const BH = B * H;
  const src = qkv.dataSync() as Float32Array;
  const q = splitHeads(src, B, T, H, hd, 3 * C, 0, 1 / Math.sqrt(hd)); // (B·H, T, hd)
  const k = splitHeads(src, B, T, H, hd, 3 * C, C, 1);
  const v = splitHeads(src, B, T, H, hd, 3 * C, 2 * C, 1);
  let saved: BatchedSaved | null = null;
  const o = tf.tidy(() => {
    const qt = tf.tensor3d(q, [BH, T, hd]),
      kt = tf.tensor3d(k, [BH, T, hd]),
      vt = tf.tensor3d(v, [BH, T, hd]);
    const scores = tf.matMul(qt, kt, false, true); // (B·H, T, T)
    const p = bias
      ? (tf.reshape(tf.softmax(tf.add(tf.reshape(scores, [B, H, T, T]), tf.tensor4d(bias, [B, 1, T, T]))), [BH, T, T]) as tf.Tensor3D)
      : (tf.softmax(tf.add(scores, causalBias(T))) as tf.Tensor3D);
    if (save) saved = { kind: "batched", B, T, H, hd, q: tf.keep(qt), k: tf.keep(kt), v: tf.keep(vt), p: tf.keep(p) };
    return tf.matMul(p, vt); // (B·H, T, hd)
  });
  const out = new Float32Array(B * T * C);
  mergeHeads(o.dataSync() as Float32Array, out, B, T, H, hd, C, 0, 1);
  o.dispose();
  return { out: tf.tensor2d(out, [B * T, C]), saved };
}

function backwardBatched(dOut: tf.Tensor2D, s: BatchedSaved): tf.Tensor2D {
  const { B, T, H, hd } = s;
  const C = H * hd;
  const BH = B * H;
  const dOh = splitHeads(dOut.dataSync() as Float32Array, B, T, H, hd, C, 0, 1); // (B·H, T, hd)
  const [dQ, dK, dV] = tf.tidy(() => {
    const d = tf.tensor3d(dOh, [BH, T, hd]);
    const p = s.p;
    const dP = tf.matMul(d, s.v, false, true); // (B·H, T, T)
    const dV = tf.matMul(p, d, true, false); // (B·H, T, hd)
    // softmax backward: dS = P ⊙ (dP − rowsum(dP ⊙ P)); P is exactly 0 where masked, so dS is too
    const dS = tf.mul(p, tf.sub(dP, tf.sum(tf.mul(dP, p), -1, true)));
    const dQ = tf.matMul(dS, s.k); // w.r.t. the scaled queries
    const dK = tf.matMul(dS, s.q, true, false);
    return [dQ, dK, dV];
  });
  const dqkv = new Float32Array(B * T * 3 * C);
  mergeHeads(dQ.dataSync() as Float32Array, dqkv, B, T, H, hd, 3 * C, 0, 1 / Math.sqrt(hd));
  mergeHeads(dK.dataSync() as Float32Array, dqkv, B, T, H, hd, 3 * C, C, 1);
  mergeHeads(dV.dataSync() as Float32Array, dqkv, B, T, H, hd, 3 * C, 2 * C, 1);
  dQ.dispose();
  dK.dispose();
  dV.dispose();
  return tf.tensor2d(dqkv, [B * T, 3 * C]);
}

function forwardPerHead(
  qkv: tf.Tensor2D,
  B: number,
  T: number,
  H: number,
  save: boolean,
  bias: Float32Array | null,
): { out: tf.Tensor2D; saved: PerHeadSaved | null } {
  const C3 = qkv.shape[1];
  const C = C3 / 3;
  const hd = C / H;
  const scale = 1 / Math.sqrt(hd);
  const src = qkv.dataSync() as Float32Array;
  const out = new Float32Array(B * T * C);
  const saved: PerHeadSaved | null = save ? { kind: "perHead", B, T, H, hd, q: [], k: [], vT: [], p: [] } : null;
  const qs: Float32Array[] = [],
    ks: Float32Array[] = [],
    vs: Float32Array[] = [];
  // scores of every (b, h) land in one buffer so the causal softmax is a single tfjs kernel
  const scores = new Float32Array(B * H * T * T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const q = new Float32Array(T * hd);
      const kT = new Float32Array(hd * T);
      const v = new Float32Array(T * hd);
      for (let t = 0; t < T; t++) {
        const base = (b * T + t) * C3 + h * hd;
        for (let j = 0; j < hd; j++) {
          q[t * hd + j] = src[base + j] * scale;
          kT[j * T + t] = src[base + C + j];
          v[t * hd + j] = src[base + 2 * C + j];
        }
      }
      const qt = t2(q, T, hd),
        kTt = t2(kT, hd, T);
      scores.set(mmData(qt, kTt), (b * H + h) * T * T); // (T, T)
      qt.dispose();
      kTt.dispose();
      qs.push(q);
      ks.push(kT);
      vs.push(v);
    }
  }
  const probs = tf.tidy(() => {
    if (!bias) return tf.softmax(tf.add(tf.tensor3d(scores, [B * H, T, T]), causalBias(T)));
    const s = tf.tensor4d(scores, [B, H, T, T]);
    return tf.softmax(tf.add(s, tf.tensor4d(bias, [B, 1, T, T])));
  });
  const pAll = probs.dataSync() as Float32Array;
  probs.dispose();
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const i = b * H + h;
      const p = pAll.subarray(i * T * T, (i + 1) * T * T);
      const pt = t2(p, T, T),
        vt = t2(vs[i], T, hd);
      const o = mmData(pt, vt); // (T, hd)
      pt.dispose();
      vt.dispose();
      for (let t = 0; t < T; t++) {
        const ob = (b * T + t) * C + h * hd;
        for (let j = 0; j < hd; j++) out[ob + j] = o[t * hd + j];
      }
      if (saved) {
        saved.q.push(qs[i]);
        saved.k.push(transposeJS(ks[i], hd, T));
        saved.vT.push(transposeJS(vs[i], T, hd));
        saved.p.push(p);
      }
    }
  }
  return { out: t2(out, B * T, C), saved };
}

/** (T, T) additive mask: 0 on and below the diagonal, a large negative number above it. */
function causalBias(T: number): tf.Tensor2D {
  const a = new Float32Array(T * T);
  for (let i = 0; i < T; i++) a.fill(-1e9, i * T + i + 1, (i + 1) * T);
  return tf.tensor2d(a, [T, T]);
}

function backwardPerHead(dOut: tf.Tensor2D, s: PerHeadSaved): tf.Tensor2D {
  const { B, T, H, hd } = s;
  const C = H * hd;
  const C3 = 3 * C;
  const scale = 1 / Math.sqrt(hd);
  const dsrc = dOut.dataSync() as Float32Array;
  const dqkv = new Float32Array(B * T * C3);
  const dO = new Float32Array(T * hd);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const i = b * H + h;
      for (let t = 0; t < T; t++) {
        const ob = (b * T + t) * C + h * hd;
        for (let j = 0; j < hd; j++) dO[t * hd + j] = dsrc[ob + j];
      }
      const p = s.p[i];
      const dOt = t2(dO, T, hd);
      const vTt = t2(s.vT[i], hd, T);
      const dP = mmData(dOt, vTt); // (T, T)
      vTt.dispose();
      const pTt = t2(transposeJS(p, T, T), T, T);
      const dV = mmData(pTt, dOt); // (T, hd)
      pTt.dispose();
      dOt.dispose();
      // softmax backward: dS = P ⊙ (dP − rowsum(dP ⊙ P)), zero above the diagonal
      const dS = new Float32Array(T * T);
      for (let r = 0; r < T; r++) {
        const ro = r * T;
        let dot = 0;
        for (let c = 0; c <= r; c++) dot += dP[ro + c] * p[ro + c];
        for (let c = 0; c <= r; c++) dS[ro + c] = p[ro + c] * (dP[ro + c] - dot);
      }
      const dSt = t2(dS, T, T),
        kt = t2(s.k[i], T, hd);
      const dQ = mmData(dSt, kt); // (T, hd), w.r.t. the scaled queries
      dSt.dispose();
      kt.dispose();
      const dSTt = t2(transposeJS(dS, T, T), T, T),
        qt = t2(s.q[i], T, hd);
      const dK = mmData(dSTt, qt);
      dSTt.dispose();
      qt.dispose();
      for (let t = 0; t < T; t++) {
        const base = (b * T + t) * C3 + h * hd;
        for (let j = 0; j < hd; j++) {
          dqkv[base + j] = dQ[t * hd + j] * scale;
          dqkv[base + C + j] = dK[t * hd + j];
          dqkv[base + 2 * C + j] = dV[t * hd + j];
        }
      }
    }
  }
  return t2(dqkv, B * T, C3);
}
