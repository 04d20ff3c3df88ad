// Fused kernels of the training pass on the native addon (native/gemm): causal attention
// forward/backward with heads in place (attention.cc), GELU and LayerNorm (pointwise.cc). Each is
// registered as a wasm-backend kernel, so its operands are read and its results written in place
// on the wasm heap, and tidy/dispose track them like any tfjs op. They run only while the native
// GEMM is active in this thread (native.ts); callers keep their tfjs path for everything else.
import * as tf from "@tensorflow/tfjs-core";
import { loadNativeGemm, nativeGemmActive, type WasmBackendLike } from "./native.ts";

/** The addon; only called from kernels that `fusedAttentionAvailable()` registered after loading it. */
const gemm = () => loadNativeGemm()!;

/**
 * Fused causal attention (native/gemm/src/attention.cc) as two wasm-backend kernels, so its
 * operands are read and its results written in place on the wasm heap. Query, key and value
 * heads stay where the projections put them: `q`, `k`, `v` are (B·T, width) matrices (possibly
 * the same tensor, GPT-2's fused c_attn output) whose heads start at columns qCol, kCol, vCol.
 */
export interface FusedAttentionAttrs {
  B: number;
  T: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  qCol: number;
  kCol: number;
  vCol: number;
}

const ATTN_FORWARD = "DpoArenaCausalAttention";
const ATTN_BACKWARD = "DpoArenaCausalAttentionGrad";

function offsetOf(be: WasmBackendLike, t: tf.TensorInfo): number {
  const off = be.dataIdMap.get(t.dataId)?.memoryOffset;
  if (off == null) throw new Error("internal: a fused-attention operand is not on the wasm heap");
  return off;
}

function attnForwardKernel(args: { inputs: Record<string, tf.TensorInfo>; backend: WasmBackendLike; attrs: unknown }): tf.TensorInfo[] {
  const { q, k, v, bias } = args.inputs;
  const a = args.attrs as FusedAttentionAttrs;
  const be = args.backend;
  const out = be.makeOutput([a.B * a.T, a.heads * a.headDim], "float32");
  const probs = be.makeOutput([a.B * a.heads, a.T, a.T], "float32");
  const qs = q.shape[1],
    kvs = k.shape[1];
  gemm().attentionForward(
    be.wasm.HEAPU8, // read after allocating: the outputs may have grown the heap
    a.B,
    a.T,
    a.heads,
    a.kvHeads,
    a.headDim,
    offsetOf(be, q) + 4 * a.qCol,
    qs,
    offsetOf(be, k) + 4 * a.kCol,
    offsetOf(be, v) + 4 * a.vCol,
    kvs,
    bias ? offsetOf(be, bias) : -1,
    offsetOf(be, out),
    a.heads * a.headDim,
    offsetOf(be, probs),
  );
  return [out, probs];
}

/** One output when q, k and v are one tensor (its gradient, same layout); else dq, dk, dv. */
function attnBackwardKernel(args: { inputs: Record<string, tf.TensorInfo>; backend: WasmBackendLike; attrs: unknown }): tf.TensorInfo[] {
  const { q, k, v, probs, dout } = args.inputs;
  const a = args.attrs as FusedAttentionAttrs;
  const be = args.backend;
  const packed = q.dataId === k.dataId && k.dataId === v.dataId;
  const rows = a.B * a.T;
  const outs = packed
    ? [be.makeOutput([rows, q.shape[1]], "float32")]
    : [
        be.makeOutput([rows, a.heads * a.headDim], "float32"),
        be.makeOutput([rows, a.kvHeads * a.headDim], "float32"),
        be.makeOutput([rows, a.kvHeads * a.headDim], "float32"),
      ];
  const [dq, dk, dv] = packed ? [outs[0], outs[0], outs[0]] : outs;
  const cols = packed ? [a.qCol, a.kCol, a.vCol] : [0, 0, 0];
  const heap = be.wasm.HEAPU8;
  if (packed) {
    // columns outside the three head ranges (none for GPT-2's c_attn) must not be left undefined
    const width = q.shape[1];
    if (width !== (a.heads + 2 * a.kvHeads) * a.headDim) new Float32Array(heap.buffer, offsetOf(be, dq), rows * width).fill(0);
  }
  gemm().attentionBackward(
    heap,
    a.B,
    a.T,
    a.heads,
    a.kvHeads,
    a.headDim,
    offsetOf(be, q) + 4 * a.qCol,
    q.shape[1],
    offsetOf(be, k) + 4 * a.kCol,
    offsetOf(be, v) + 4 * a.vCol,
    k.shape[1],
    offsetOf(be, probs),
    offsetOf(be, dout),
    dout.shape[1],
    offsetOf(be, dq) + 4 * cols[0],
    dq.shape[1],
    offsetOf(be, dk) + 4 * cols[1],
    offsetOf(be, dv) + 4 * cols[2],
    dk.shape[1],
  );
  return outs;
}

const GELU_FORWARD = "DpoArenaGelu";
const GELU_BACKWARD = "DpoArenaGeluGrad";

function geluKernel(args: { inputs: Record<string, tf.TensorInfo>; backend: WasmBackendLike }): tf.TensorInfo {
  const { u } = args.inputs;
  const be = args.backend;
  const g = be.makeOutput(u.shape, "float32");
  gemm().gelu(be.wasm.HEAPU8, offsetOf(be, u), offsetOf(be, g), tf.util.sizeFromShape(u.shape));
  return g;
}

function geluGradKernel(args: { inputs: Record<string, tf.TensorInfo>; backend: WasmBackendLike }): tf.TensorInfo {
  const { dg, u } = args.inputs;
  const be = args.backend;
  const du = be.makeOutput(u.shape, "float32");
  gemm().geluBackward(be.wasm.HEAPU8, offsetOf(be, dg), offsetOf(be, u), offsetOf(be, du), tf.util.sizeFromShape(u.shape));
  return du;
}

/** gelu_new(u) in one native pass (when `fusedAttentionAvailable()`, which also covers these kernels). */
export function fusedGelu(u: tf.Tensor): tf.Tensor {
  return tf.engine().runKernel(GELU_FORWARD, { u } as tf.NamedTensorMap, {}) as tf.Tensor;
}

/** dg · gelu_new'(u) in one native pass. */
export function fusedGeluBackward(dg: tf.Tensor, u: tf.Tensor): tf.Tensor {
  if (!tf.util.arraysEqual(dg.shape, u.shape))
    throw new Error(`fusedGeluBackward: dg ${JSON.stringify(dg.shape)} and u ${JSON.stringify(u.shape)} differ`);
  return tf.engine().runKernel(GELU_BACKWARD, { dg, u } as tf.NamedTensorMap, {}) as tf.Tensor;
}

const LN_FORWARD = "DpoArenaLayerNorm";
const LN_BACKWARD = "DpoArenaLayerNormGrad";

function layerNormKernel(args: { inputs: Record<string, tf.TensorInfo>; backend: WasmBackendLike; attrs: unknown }): tf.TensorInfo[] {
  const { x, g, b } = args.inputs;
  const { eps } = args.attrs as { eps: number };
  const be = args.backend;
  const [rows, cols] = x.shape;
  const y = be.makeOutput([rows, cols], "float32");
  const xhat = be.makeOutput([rows, cols], "float32");
  const rstd = be.makeOutput([rows, 1], "float32");
  gemm().layerNorm(
    be.wasm.HEAPU8,
    offsetOf(be, x),
    offsetOf(be, g),
    offsetOf(be, b),
    offsetOf(be, y),
    offsetOf(be, xhat),
    offsetOf(be, rstd),
    rows,
    cols,
    eps,
  );
  return [y, xhat, rstd];
}

function layerNormGradKernel(args: { inputs: Record<string, tf.TensorInfo>; backend: WasmBackendLike }): tf.TensorInfo[] {
  const { dy, xhat, rstd, g } = args.inputs;
  const be = args.backend;
  const [rows, cols] = dy.shape;
  const dx = be.makeOutput([rows, cols], "float32");
  const dg = be.makeOutput([cols], "float32");
  const db = be.makeOutput([cols], "float32");
  gemm().layerNormBackward(
    be.wasm.HEAPU8,
    offsetOf(be, dy),
    offsetOf(be, xhat),
    offsetOf(be, rstd),
    offsetOf(be, g),
    offsetOf(be, dx),
    offsetOf(be, dg),
    offsetOf(be, db),
    rows,
    cols,
  );
  return [dx, dg, db];
}

/** LayerNorm of a (rows, cols) x in one native pass: y, and the xhat and rstd (rows, 1) its backward needs. */
export function fusedLayerNorm(
  x: tf.Tensor2D,
  g: tf.Tensor,
  b: tf.Tensor,
  eps: number,
): { y: tf.Tensor2D; xhat: tf.Tensor2D; rstd: tf.Tensor2D } {
  const cols = x.shape[1];
  if (g.size !== cols || b.size !== cols) throw new Error(`fusedLayerNorm: g and b must hold ${cols} values`);
  const [y, xhat, rstd] = tf
    .engine()
    .runKernel(LN_FORWARD, { x, g, b } as tf.NamedTensorMap, { eps } as unknown as tf.NamedAttrMap) as tf.Tensor2D[];
  return { y, xhat, rstd };
}

/** LayerNorm's backward pass in one native pass: dx, dg, db. */
export function fusedLayerNormBackward(
  dy: tf.Tensor2D,
  xhat: tf.Tensor2D,
  rstd: tf.Tensor2D,
  g: tf.Tensor,
): { dx: tf.Tensor2D; dg: tf.Tensor1D; db: tf.Tensor1D } {
  if (!tf.util.arraysEqual(dy.shape, xhat.shape) || rstd.size !== dy.shape[0] || g.size !== dy.shape[1])
    throw new Error(
      `fusedLayerNormBackward: shapes dy ${JSON.stringify(dy.shape)}, xhat ${JSON.stringify(xhat.shape)}, rstd ${JSON.stringify(rstd.shape)}, g ${JSON.stringify(g.shape)} do not fit`,
    );
  const [dx, dg, db] = tf.engine().runKernel(LN_BACKWARD, { dy, xhat, rstd, g } as tf.NamedTensorMap, {}) as tf.Tensor[];
  return { dx: dx as tf.Tensor2D, dg: dg as tf.Tensor1D, db: db as tf.Tensor1D };
}

let attentionKernelsRegistered = false;

/**
 * Whether the fused kernels (attention, GELU, LayerNorm) can run now: the native GEMM is installed and active in
 * this thread, the active backend is wasm and the addon has them. Callers keep their own path
 * for every other case (cpu, tensorflow, no addon, `DPO_ARENA_NATIVE_GEMM=0`).
 */
export function fusedAttentionAvailable(): boolean {
  const addon = loadNativeGemm();
  if (
    !nativeGemmActive() ||
    !addon ||
    typeof addon.attentionForward !== "function" ||
    typeof addon.layerNorm !== "function" ||
    tf.getBackend() !== "wasm"
  )
    return false;
  if (!attentionKernelsRegistered) {
    const reg = (kernelName: string, f: unknown) => tf.registerKernel({ kernelName, backendName: "wasm", kernelFunc: f as tf.KernelFunc });
    reg(ATTN_FORWARD, attnForwardKernel);
    reg(ATTN_BACKWARD, attnBackwardKernel);
    reg(GELU_FORWARD, geluKernel);
    reg(GELU_BACKWARD, geluGradKernel);
    reg(LN_FORWARD, layerNormKernel);
    reg(LN_BACKWARD, layerNormGradKernel);
    // autodiff through the forward kernel (the Llama layers differentiate with tf.grads)
    if (!tf.getGradient(ATTN_FORWARD))
      tf.registerGradient({
        kernelName: ATTN_FORWARD,
        inputsToSave: ["q", "k", "v"],
        outputsToSave: [false, true],
        gradFunc: (dy, saved, attrs) => {
          const [q, k, v, probs] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor3D];
          const dOut = (Array.isArray(dy) ? dy[0] : dy) as tf.Tensor2D;
          if (q.dataId === k.dataId || k.dataId === v.dataId)
            throw new Error("fused attention is differentiable only with separate q, k, v tensors");
          const a = attrs as unknown as FusedAttentionAttrs;
          const [dq, dk, dv] = fusedAttentionBackward(q, k, v, probs, dOut, a);
          return { q: () => dq, k: () => dk, v: () => dv, bias: () => tf.zeros([a.B, a.T, a.T]) };
        },
      });
    attentionKernelsRegistered = true;
  }
  return true;
}

function checkAttn(name: string, q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D, a: FusedAttentionAttrs): void {
  const rows = a.B * a.T;
  const ok =
    a.heads % a.kvHeads === 0 &&
    [q, k, v].every((t) => t.rank === 2 && t.shape[0] === rows && t.dtype === "float32") &&
    a.qCol + a.heads * a.headDim <= q.shape[1] &&
    a.kCol + a.kvHeads * a.headDim <= k.shape[1] &&
    a.vCol + a.kvHeads * a.headDim <= v.shape[1] &&
    k.shape[1] === v.shape[1];
  if (!ok) throw new Error(`${name}: operand shapes ${JSON.stringify([q.shape, k.shape, v.shape])} do not fit ${JSON.stringify(a)}`);
}

/** Returns the merged head outputs (B·T, heads·headDim) and the probabilities (B·heads, T, T) the backward pass needs. */
export function fusedAttentionForward(
  q: tf.Tensor2D,
  k: tf.Tensor2D,
  v: tf.Tensor2D,
  bias: tf.Tensor | null,
  attrs: FusedAttentionAttrs,
): { out: tf.Tensor2D; probs: tf.Tensor3D } {
  checkAttn("fusedAttentionForward", q, k, v, attrs);
  if (bias && bias.size !== attrs.B * attrs.T * attrs.T)
    throw new Error(`fusedAttentionForward: bias must hold B·T·T = ${attrs.B * attrs.T * attrs.T} values`);
  const inputs: Record<string, tf.Tensor> = { q, k, v };
  if (bias) inputs.bias = bias;
  const [out, probs] = tf.engine().runKernel(ATTN_FORWARD, inputs as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
  return { out: out as tf.Tensor2D, probs: probs as tf.Tensor3D };
}

/** Gradients of fusedAttentionForward: one tensor shaped like q when q, k, v are one tensor, else [dq, dk, dv]. */
export function fusedAttentionBackward(
  q: tf.Tensor2D,
  k: tf.Tensor2D,
  v: tf.Tensor2D,
  probs: tf.Tensor3D,
  dout: tf.Tensor2D,
  attrs: FusedAttentionAttrs,
): tf.Tensor2D[] {
  checkAttn("fusedAttentionBackward", q, k, v, attrs);
  const res = tf.engine().runKernel(ATTN_BACKWARD, { q, k, v, probs, dout } as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap);
  return (Array.isArray(res) ? res : [res]) as tf.Tensor2D[];
}
