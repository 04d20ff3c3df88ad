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
/**
 * Fused causal self-attention forward on heads kept in place (no split/merge copies), skipping
 * the masked upper triangle. Byte offsets into `heap`, row strides in floats: q is (B·T) rows
 * with head h at columns h·headDim; k and v likewise with kvHeads heads (query head h uses
 * key/value head h / (heads / kvHeads)). Writes out ((B·T) rows, stride outStride) and probs
 * (B, heads, T, T; zero above the diagonal). biasOff = -1 for none, else a (B, T, T) additive mask.
 */
export function attentionForward(
  heap: ArrayBuffer | ArrayBufferView,
  B: number,
  T: number,
  heads: number,
  kvHeads: number,
  headDim: number,
  qOff: number,
  qStride: number,
  kOff: number,
  vOff: number,
  kvStride: number,
  biasOff: number,
  outOff: number,
  outStride: number,
  probsOff: number,
): void;
/** The gradients of attentionForward w.r.t. q, k, v (written, not accumulated), from dout and probs. */
export function attentionBackward(
  heap: ArrayBuffer | ArrayBufferView,
  B: number,
  T: number,
  heads: number,
  kvHeads: number,
  headDim: number,
  qOff: number,
  qStride: number,
  kOff: number,
  vOff: number,
  kvStride: number,
  probsOff: number,
  doutOff: number,
  doutStride: number,
  dqOff: number,
  dqStride: number,
  dkOff: number,
  dvOff: number,
  dkvStride: number,
): void;
/** g = gelu_new(u) (tanh approximation) over n floats at byte offsets into heap. */
export function gelu(heap: ArrayBuffer | ArrayBufferView, uOff: number, gOff: number, n: number): void;
/** du = dg · gelu_new'(u) over n floats. */
export function geluBackward(heap: ArrayBuffer | ArrayBufferView, dgOff: number, uOff: number, duOff: number, n: number): void;
/** LayerNorm over the rows of a (rows, cols) x: writes y, xhat (rows, cols) and rstd (rows). */
export function layerNorm(
  heap: ArrayBuffer | ArrayBufferView,
  xOff: number,
  gOff: number,
  bOff: number,
  yOff: number,
  xhatOff: number,
  rstdOff: number,
  rows: number,
  cols: number,
  eps: number,
): void;
/** LayerNorm's backward pass from xhat and rstd: writes dx (rows, cols), dg and db (cols). */
export function layerNormBackward(
  heap: ArrayBuffer | ArrayBufferView,
  dyOff: number,
  xhatOff: number,
  rstdOff: number,
  gOff: number,
  dxOff: number,
  dgOff: number,
  dbOff: number,
  rows: number,
  cols: number,
): void;
