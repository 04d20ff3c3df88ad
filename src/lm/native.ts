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
/** The parts of the wasm backend the native kernels use (also native-fused.ts's). */
export interface WasmBackendLike {
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

/** Whether the native GEMM is installed and switched on in this thread (the fused kernels follow it). */
export function nativeGemmActive(): boolean {
  return active;
}

/** Calls routed to the native GEMM and to the original kernel since the last reset. */
export function nativeGemmCalls(reset = false): { native: number; fallback: number } {
  const c = { ...calls };
  if (reset) calls = { native: 0, fallback: 0 };
  return c;
}
