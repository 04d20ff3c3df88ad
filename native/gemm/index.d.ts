/**
 * For every i < batch: C_i = op(A_i) · op(B_i), float32, all three inside `heap` (an ArrayBuffer,
 * or a typed array over any buffer, shared or WebAssembly memory included) at byte offsets.
 * C_i is row-major (m, n) at cByteOffset + i·m·n·4. A_i is (m, k) row-major, or (k, m) when
 * transposeA, starting aBatchStride floats after A_{i-1} (0 = the same matrix for every i);
 * likewise B_i, (k, n) or (n, k). Regions are bounds-checked (RangeError). Single-threaded.
 */
export function batchMatMul(
  heap: ArrayBuffer | ArrayBufferView,
  aByteOffset: number,
  bByteOffset: number,
  cByteOffset: number,
  batch: number,
  m: number,
  n: number,
  k: number,
  transposeA: boolean,
  transposeB: boolean,
  aBatchStride: number,
  bBatchStride: number,
): void;
/** The micro-kernel in use: "avx512", "avx2" or "portable". */
export function kernel(): string;
/** The micro-kernels this CPU supports, fastest (the default) first. */
export function kernels(): string[];
/** Switches the micro-kernel for the whole process (all threads); for tests and benchmarks. */
export function setKernel(name: string): void;
