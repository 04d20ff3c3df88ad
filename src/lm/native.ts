// Native GEMM for the wasm backend. The optional package `dpo-arena-native-gemm` (native/gemm,
// built by node-gyp at install time when a compiler is present) is a cache-blocked float32
// GEMM with AVX-512 / AVX2+FMA micro-kernels. When it loads, the wasm backend's BatchMatMul
// kernel is re-registered to run it directly on the backend's WebAssembly memory: the inputs
// are read where the backend keeps them and the result is written into an output the backend
// allocated, so nothing is copied. Any case it does not handle goes to the original kernel.
// `DPO_ARENA_NATIVE_GEMM=0` turns it off. Worker threads install it through their own
// backend init (each thread has its own tfjs, kernel registry and wasm memory).
import * as tf from "@tensorflow/tfjs-core";

/** The addon's interface, declared once beside its source (read by path: the package is optional). */
export type NativeGemm = typeof import("../../native/gemm/index.js");

export interface NativeGemmStatus {
  enabled: boolean;
  reason: string;
  kernel?: string;
}

const PACKAGE = "dpo-arena-native-gemm";
let addon: NativeGemm | null | undefined;
let addonError = "";

/** The addon, or null when it is not built/installed (`nativeGemmLoadError()` says why). */
export function loadNativeGemm(): NativeGemm | null {
  if (addon !== undefined) return addon;
  // getBuiltinModule keeps bundlers (Next.js) from trying to resolve the native package
  const { createRequire } = process.getBuiltinModule("node:module");
  const bases = [import.meta.url, `${process.cwd()}/package.json`];
  for (const base of bases) {
    try {
      addon = createRequire(base)(PACKAGE) as NativeGemm;
      return addon;
    } catch (e) {
      addonError = e instanceof Error ? e.message.split("\n")[0] : String(e);
    }
  }
  addon = null;
  return addon;
}

export function nativeGemmLoadError(): string {
  return addonError;
}

// ---------------------------------------------------------------- the kernel

interface WasmTensorData {
  memoryOffset: number | null;
}
interface WasmBackendLike {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): WasmTensorData | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}
interface KernelArgs {
  inputs: { a: tf.TensorInfo; b: tf.TensorInfo };
  backend: WasmBackendLike;
  attrs: { transposeA: boolean; transposeB: boolean };
}

/**
 * Routing knobs. Below `minRowsNN` output rows, a plain 2-D NN product goes to the original
 * kernel: XNNPACK keeps the packed weights of a (reused) B between calls, while this GEMM
 * re-packs B every call, which dominates at a handful of rows (sampling's decode steps; measured
 * crossover ≈ 8 rows for d = 128…1024). Transposed and batched products always run natively
 * (the original is 10–100× slower on those).
 */
export const nativeGemmRouting = { minRowsNN: 8 };

let original: tf.KernelConfig | null = null;
let active = false;
let calls = { native: 0, fallback: 0 };

/** Element strides of each outer (batch) dim of a tensor whose trailing two dims are a matrix
 *  of `matSize` elements, aligned to the output's outer rank; 0 where the dim broadcasts. */
function batchStrides(outer: number[], rank: number, matSize: number): number[] {
  const strides = new Array<number>(rank).fill(0);
  let s = matSize;
  for (let i = outer.length - 1, o = rank - 1; i >= 0; i--, o--) {
    strides[o] = outer[i] === 1 ? 0 : s;
    s *= outer[i];
  }
  return strides;
}

function nativeBatchMatMul(args: KernelArgs): tf.TensorInfo {
  const gemm = addon;
  const { a, b } = args.inputs;
  const { transposeA, transposeB } = args.attrs;
  const fallback = () => {
    calls.fallback++;
    return (original!.kernelFunc as (x: KernelArgs) => tf.TensorInfo)(args);
  };
  if (!active || !gemm || a.dtype !== "float32" || b.dtype !== "float32" || a.shape.length < 2 || b.shape.length < 2) return fallback();
  const ra = a.shape.length,
    rb = b.shape.length;
  const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (k !== kb) return fallback(); // the original throws tfjs's own message
  const outerA = a.shape.slice(0, -2),
    outerB = b.shape.slice(0, -2);
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
  const batch = tf.util.sizeFromShape(outer);
  if (batch === 0 || m === 0 || n === 0) return fallback();
  if (m < nativeGemmRouting.minRowsNN && ra === 2 && rb === 2 && !transposeA && !transposeB) return fallback();
  const be = args.backend;
  const aOff = be.dataIdMap.get(a.dataId)?.memoryOffset;
  const bOff = be.dataIdMap.get(b.dataId)?.memoryOffset;
  if (aOff == null || bOff == null) return fallback();

  const out = be.makeOutput([...outer, m, n], "float32");
  const cOff = be.dataIdMap.get(out.dataId)!.memoryOffset!;
  // read the heap only now: allocating the output may have grown the wasm memory
  const heap = be.wasm.HEAPU8;
  calls.native++;
  const rank = outer.length;
  const sa = batchStrides(outerA, rank, m * k),
    sb = batchStrides(outerB, rank, k * n);
  // common cases in one call: each operand is either the whole batch in order or one matrix
  const sizeA = tf.util.sizeFromShape(outerA),
    sizeB = tf.util.sizeFromShape(outerB);
  const uniform = (size: number) => size === 1 || size === batch;
  if (uniform(sizeA) && uniform(sizeB)) {
    gemm.batchMatMul(heap, aOff, bOff, cOff, batch, m, n, k, transposeA, transposeB, sizeA === 1 ? 0 : m * k, sizeB === 1 ? 0 : k * n);
    return out;
  }
  // general broadcasting (e.g. (2,1,…) with (1,3,…)): one call per output matrix
  const idx = new Array<number>(rank).fill(0);
  for (let i = 0; i < batch; i++) {
    let ea = 0,
      eb = 0;
    for (let d = 0; d < rank; d++) {
      ea += idx[d] * sa[d];
      eb += idx[d] * sb[d];
    }
    gemm.batchMatMul(heap, aOff + 4 * ea, bOff + 4 * eb, cOff + 4 * i * m * n, 1, m, n, k, transposeA, transposeB, 0, 0);
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d] < outer[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

// ---------------------------------------------------------------- install

let status: NativeGemmStatus | null = null;

/**
 * Installs the native BatchMatMul on the wasm backend if the addon loads and
 * `DPO_ARENA_NATIVE_GEMM` is not `0`. Idempotent; logs one JSON line to stderr the first time
 * it is called in a thread, and again only if the outcome changes (e.g. cpu first, wasm later).
 */
export function enableNativeGemm(backend: string): NativeGemmStatus {
  if (status?.enabled) return status;
  const next = install(backend);
  if (!status || status.reason !== next.reason) process.stderr.write(`${JSON.stringify({ event: "native_gemm", ...next })}\n`);
  status = next;
  return status;
}

function install(backend: string): NativeGemmStatus {
  if (process.env.DPO_ARENA_NATIVE_GEMM?.trim() === "0") return { enabled: false, reason: "DPO_ARENA_NATIVE_GEMM=0" };
  if (backend !== "wasm") return { enabled: false, reason: "the active tfjs backend is not wasm" };
  const gemm = loadNativeGemm();
  if (!gemm) return { enabled: false, reason: `${PACKAGE} is not built or not installed (${addonError})` };
  if (!original) {
    const kernel = tf.getKernel("BatchMatMul", "wasm");
    if (!kernel) return { enabled: false, reason: "the wasm backend has no BatchMatMul kernel registered" };
    original = kernel;
    tf.unregisterKernel("BatchMatMul", "wasm");
    // keep the original setup: it binds the wasm function the fallback calls
    tf.registerKernel({ ...kernel, kernelFunc: nativeBatchMatMul as unknown as tf.KernelFunc });
  }
  active = true;
  return { enabled: true, reason: `native GEMM on the wasm heap (${gemm.kernel()} micro-kernel)`, kernel: gemm.kernel() };
}

/** Turns the installed native kernel on or off in this thread (tests and benchmarks compare
 *  the two); returns the previous state. A no-op returning false when it was never installed. */
export function setNativeGemmActive(on: boolean): boolean {
  const was = active;
  if (original) active = on;
  return was;
}

/** Calls routed to the native GEMM and to the original kernel since the last reset. */
export function nativeGemmCalls(reset = false): { native: number; fallback: number } {
  const c = { ...calls };
  if (reset) calls = { native: 0, fallback: 0 };
  return c;
}

// ---------------------------------------------------------------- fused causal attention

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
  addon!.attentionForward(
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
  addon!.attentionBackward(
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
  addon!.gelu(be.wasm.HEAPU8, offsetOf(be, u), offsetOf(be, g), tf.util.sizeFromShape(u.shape));
  return g;
}

function geluGradKernel(args: { inputs: Record<string, tf.TensorInfo>; backend: WasmBackendLike }): tf.TensorInfo {
  const { dg, u } = args.inputs;
  const be = args.backend;
  const du = be.makeOutput(u.shape, "float32");
  addon!.geluBackward(be.wasm.HEAPU8, offsetOf(be, dg), offsetOf(be, u), offsetOf(be, du), tf.util.sizeFromShape(u.shape));
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
  addon!.layerNorm(
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
  addon!.layerNormBackward(
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
  if (
    !active ||
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
