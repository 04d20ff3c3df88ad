// The decode step's scalar hot loops (decode.ts) as a WebAssembly SIMD kernel: the module is
// assembled from bytes below, and `getKernel()` instantiates it once per thread.
// This file is left out of formatting (biome.json): the formatter puts every opcode on a line of
// its own (sample.ts, which held this module, went from 602 to 893 lines when that was tried),
// and the opcodes read best in rows.
//
// V8 does not vectorise JS loops. These four f32x4 functions, assembled from bytes here (no
// toolchain, no dependency), run attention's two inner loops at ~6 GFLOP/s on the decode shape
// (the JS loops: ~1.4), and exp (softmax, GELU) ~5× faster than Math.exp. Each segment's keys and
// values are copied into the kernel's memory per layer; keeping the caches there instead (a block
// allocator) measured no faster, so the simpler copy stays.
// Where WebAssembly SIMD is missing (or a head size is not a multiple of 4) the JS loops run.
// Pointers, strides and lengths are in bytes; lengths are multiples of 16.
//   dots(q, k, n, stride, hdBytes, out)  out[j] = Σ_e q[e]·k[j·stride/4 + e]             j < n
//   wsum(w, v, n, stride, hdBytes, acc)  acc[e] = Σ_j w[j]·v[j·stride/4 + e]             e < hd
//   expShift(x, bytes, shift)            x[i] = exp(x[i] − shift)
//   gelu(x, bytes)                       x[i] = x[i]·σ(2·√(2/π)·(x[i] + 0.044715·x[i]³))  (gelu_new)
// exp: clamp to [−87, 88], x = k·ln2 + r with |r| ≤ ln2/2, degree-6 Taylor polynomial for e^r
// (relative error ~2e-7, float32's own), 2^k built in the exponent bits.

type StridedFn = (a: number, b: number, n: number, stride: number, hdBytes: number, out: number) => void;
export interface SimdKernel {
  memory: WebAssembly.Memory;
  f32: Float32Array;
  dots: StridedFn;
  wsum: StridedFn;
  expShift: (x: number, bytes: number, shift: number) => void;
  gelu: (x: number, bytes: number) => void;
}

function assembleKernel(): SimdKernel {
  const uleb = (n: number): number[] => { const o: number[] = []; do { let b = n & 0x7f; n >>>= 7; if (n) b |= 0x80; o.push(b); } while (n); return o; };
  const sleb = (v: number): number[] => { const o: number[] = []; for (;;) { const b = v & 0x7f; v >>= 7; if ((v === 0 && !(b & 0x40)) || (v === -1 && b & 0x40)) { o.push(b); return o; } o.push(b | 0x80); } };
  const get = (i: number) => [0x20, i], set = (i: number) => [0x21, i], tee = (i: number) => [0x22, i];
  const i32 = (v: number) => [0x41, ...sleb(v)];
  const simd = (opcode: number) => [0xfd, ...uleb(opcode)];
  const splat = (v: number) => [0x43, ...new Uint8Array(Float32Array.of(v).buffer), ...simd(0x13)]; // f32.const v; f32x4.splat
  const add = 0x6a, shl = 0x74, ltU = 0x49, brIf = 0x0d, loop = [0x03, 0x40], end = 0x0b, f32Add = 0x92;
  const vLoad = [...simd(0), 4, 0], vStore = [...simd(11), 4, 0], vZero = [...simd(12), ...new Array(16).fill(0)];
  const fxAdd = simd(0xe4), fxSub = simd(0xe5), fxMul = simd(0xe6), fxDiv = simd(0xe7), fxMin = simd(0xe8), fxMax = simd(0xe9);
  const lane = (k: number) => [...simd(0x1f), k];
  /** exp of the v128 on the stack; X, K, R are v128 scratch locals. */
  const expV = (X: number, K: number, R: number) => [
    ...splat(88), ...fxMin, ...splat(-87), ...fxMax, ...tee(X),
    ...splat(Math.LOG2E), ...fxMul, ...simd(0x6a) /* f32x4.nearest */, ...set(K),
    ...get(X), ...get(K), ...splat(0.693145751953125), ...fxMul, ...fxSub, ...get(K), ...splat(1.428606765330187e-6), ...fxMul, ...fxSub, ...set(R), // r = x − k·ln2 (ln2 in two parts)
    ...splat(1 / 720), ...[1 / 120, 1 / 24, 1 / 6, 1 / 2, 1, 1].flatMap((c) => [...get(R), ...fxMul, ...splat(c), ...fxAdd]),
    ...get(K), ...simd(0xf8) /* i32x4.trunc_sat_f32x4_s */, ...i32(127), ...simd(0x11) /* i32x4.splat */, ...simd(0xae) /* i32x4.add */, ...i32(23), ...simd(0xab) /* i32x4.shl */, ...fxMul,
  ];
  // dots / wsum: params 0..5 as documented; locals 6 = j, 7 = e (bytes), 8 = v128
  const nextE = [...get(7), ...i32(16), add, ...tee(7), ...get(4), ltU, brIf, 0];
  const nextJ = [...get(1), ...get(3), add, ...set(1), ...get(6), ...i32(1), add, ...tee(6), ...get(2), ltU, brIf, 0];
  const dots = [
    ...loop, ...vZero, ...set(8), ...i32(0), ...set(7),
    ...loop, ...get(8), ...get(0), ...get(7), add, ...vLoad, ...get(1), ...get(7), add, ...vLoad, ...fxMul, ...fxAdd, ...set(8), ...nextE, end,
    ...get(5), ...get(6), ...i32(2), shl, add,
    ...get(8), ...lane(0), ...get(8), ...lane(1), f32Add, ...get(8), ...lane(2), ...get(8), ...lane(3), f32Add, f32Add, 0x38, 2, 0, // f32.store
    ...nextJ, end,
  ];
  const wsum = [
    ...i32(0), ...set(7), ...loop, ...get(5), ...get(7), add, ...vZero, ...vStore, ...nextE, end,
    ...loop, ...get(0), ...get(6), ...i32(2), shl, add, 0x2a, 2, 0 /* f32.load */, ...simd(0x13), ...set(8), ...i32(0), ...set(7),
    ...loop, ...get(5), ...get(7), add, ...get(5), ...get(7), add, ...vLoad, ...get(1), ...get(7), add, ...vLoad, ...get(8), ...fxMul, ...fxAdd, ...vStore, ...nextE, end,
    ...nextJ, end,
  ];
  // expShift(x, bytes, shift: f32): locals 3 = i, 4..6 v128 · gelu(x, bytes): locals 2 = i, 3 = z, 4..6 v128
  const expShift = [
    ...i32(0), ...set(3),
    ...loop, ...get(0), ...get(3), add, ...get(0), ...get(3), add, ...vLoad, ...get(2), ...simd(0x13), ...fxSub, ...expV(4, 5, 6), ...vStore,
    ...get(3), ...i32(16), add, ...tee(3), ...get(1), ltU, brIf, 0, end,
  ];
  const gelu = [
    ...i32(0), ...set(2),
    ...loop, ...get(0), ...get(2), add, ...get(0), ...get(2), add, ...vLoad, ...tee(3), // z (the numerator)
    ...get(3), ...get(3), ...fxMul, ...get(3), ...fxMul, ...splat(0.044715), ...fxMul, ...get(3), ...fxAdd, ...splat(-2 * Math.sqrt(2 / Math.PI)), ...fxMul,
    ...expV(4, 5, 6), ...splat(1), ...fxAdd, ...fxDiv, ...vStore, // z / (1 + e^(−2u))
    ...get(2), ...i32(16), add, ...tee(2), ...get(1), ltU, brIf, 0, end,
  ];
  const I32 = 0x7f, F32 = 0x7d, V128 = 0x7b;
  const section = (id: number, b: number[]) => [id, ...uleb(b.length), ...b];
  const name = (x: string) => [x.length, ...Array.from(x, (ch) => ch.charCodeAt(0))];
  const body = (locals: number[], code: number[]) => { const b = [...locals, ...code, end]; return [...uleb(b.length), ...b]; };
  const bytes = new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, [3, 0x60, 6, I32, I32, I32, I32, I32, I32, 0, 0x60, 3, I32, I32, F32, 0, 0x60, 2, I32, I32, 0]), // types
    ...section(2, [1, ...name("m"), ...name("mem"), 2, 0, 1]), // imports: memory m.mem
    ...section(3, [4, 0, 0, 1, 2]), // functions' types
    ...section(7, [4, ...name("dots"), 0, 0, ...name("wsum"), 0, 1, ...name("expShift"), 0, 2, ...name("gelu"), 0, 3]),
    ...section(10, [4, ...body([2, 2, I32, 1, V128], dots), ...body([2, 2, I32, 1, V128], wsum), ...body([2, 1, I32, 3, V128], expShift), ...body([2, 1, I32, 4, V128], gelu)]),
  ]);
  const memory = new WebAssembly.Memory({ initial: 16 });
  const ex = new WebAssembly.Instance(new WebAssembly.Module(bytes), { m: { mem: memory } }).exports;
  return {
    memory, f32: new Float32Array(memory.buffer),
    dots: ex.dots as StridedFn, wsum: ex.wsum as StridedFn, expShift: ex.expShift as SimdKernel["expShift"], gelu: ex.gelu as SimdKernel["gelu"],
  };
}

let simdKernel: SimdKernel | null | undefined;
export function getKernel(): SimdKernel | null {
  if (simdKernel === undefined) {
    try {
      simdKernel = assembleKernel();
    } catch {
      simdKernel = null; // no WebAssembly SIMD in this runtime: the JS loops run
    }
  }
  return simdKernel;
}

/** The kernel's memory as floats, at least `floats` long (growing it replaces the buffer). */
export function kernelFloats(kernel: SimdKernel, floats: number): Float32Array {
  const bytes = floats * 4;
  if (kernel.memory.buffer.byteLength < bytes) {
    kernel.memory.grow(Math.ceil((bytes - kernel.memory.buffer.byteLength) / 65536));
    kernel.f32 = new Float32Array(kernel.memory.buffer);
  }
  return kernel.f32;
}

/** Which inner loops this process runs ("wasm-simd" or "js"), for benchmarks to report. */
export function attentionKernel(): "wasm-simd" | "js" {
  return getKernel() ? "wasm-simd" : "js";
}

