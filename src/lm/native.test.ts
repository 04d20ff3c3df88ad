// The native GEMM replaces the wasm backend's BatchMatMul when the optional addon is built.
// These tests compare it with the original wasm kernel (and a float64 reference) over random
// shapes, every transpose combination, batches and broadcasting, for every micro-kernel the
// CPU supports. When the addon is not built, the native tests are not run and their names
// say so; the fallback test runs either way.
import { Worker } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "./backend.ts";
import { logprobGrads, type ScoreItem, scoreCompletions } from "./forward.ts";
import { makeRng } from "./model.ts";
import {
  enableNativeGemm,
  loadNativeGemm,
  nativeGemmCalls,
  nativeGemmLoadError,
  nativeGemmRouting,
  setNativeGemmActive,
} from "./native.ts";
import * as nativeApi from "./native-fused.ts";
import { randomIds, TINY, tinyModel } from "./testing.ts";

const gemm = loadNativeGemm();
const available = gemm !== null;
const switchedOff = process.env.DPO_ARENA_NATIVE_GEMM?.trim() === "0";
/** the addon is built and allowed to replace the wasm kernel (what these tests exercise) */
const active = available && !switchedOff;
const notBuilt = !available
  ? ` [NOT RUN: dpo-arena-native-gemm is not built here: ${nativeGemmLoadError()}]`
  : switchedOff
    ? " [NOT RUN: DPO_ARENA_NATIVE_GEMM=0 turns the native GEMM off]"
    : "";

let backend = "";
beforeAll(async () => {
  backend = await initBackend("wasm");
});

const defaultMinRows = nativeGemmRouting.minRowsNN;

afterAll(() => {
  nativeGemmRouting.minRowsNN = defaultMinRows;
  setNativeGemmActive(true);
  if (gemm) gemm.setKernel(gemm.kernels()[0]);
});

/** op(A)·op(B) in float64 with true (numpy) broadcasting of the batch dims, plus Σ|a||b| per
 *  output element for a rounding-aware tolerance. */
function reference(a: Float32Array, aShape: number[], b: Float32Array, bShape: number[], ta: boolean, tb: boolean) {
  const ra = aShape.length,
    rb = bShape.length;
  const m = ta ? aShape[ra - 1] : aShape[ra - 2],
    k = ta ? aShape[ra - 2] : aShape[ra - 1];
  const n = tb ? bShape[rb - 2] : bShape[rb - 1];
  const outerA = aShape.slice(0, -2),
    outerB = bShape.slice(0, -2);
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
  const batch = outer.reduce((x, y) => x * y, 1);
  const out = new Float64Array(batch * m * n),
    mag = new Float64Array(batch * m * n);
  const offsetOf = (dims: number[], idx: number[], mat: number) => {
    let off = 0,
      s = mat;
    for (let d = dims.length - 1, o = idx.length - 1; d >= 0; d--, o--) {
      off += (dims[d] === 1 ? 0 : idx[o]) * s;
      s *= dims[d];
    }
    return off;
  };
  const idx = new Array<number>(outer.length).fill(0);
  for (let bi = 0; bi < batch; bi++) {
    const ao = offsetOf(outerA, idx, m * k),
      bo = offsetOf(outerB, idx, k * n);
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0,
          g = 0;
        for (let p = 0; p < k; p++) {
          const x = a[ao + (ta ? p * m + i : i * k + p)],
            y = b[bo + (tb ? j * k + p : p * n + j)];
          s += x * y;
          g += Math.abs(x * y);
        }
        out[bi * m * n + i * n + j] = s;
        mag[bi * m * n + i * n + j] = g;
      }
    for (let d = outer.length - 1; d >= 0; d--) {
      if (++idx[d] < outer[d]) break;
      idx[d] = 0;
    }
  }
  return { out, mag, shape: [...outer, m, n] };
}

function randomArray(size: number, rand: () => number): Float32Array {
  return Float32Array.from({ length: size }, () => rand() * 2 - 1);
}

function matMulWith(
  native: boolean,
  a: tf.Tensor,
  b: tf.Tensor,
  ta: boolean,
  tb: boolean,
): { data: Float32Array; shape: number[]; routed: { native: number; fallback: number } } {
  const was = setNativeGemmActive(native);
  nativeGemmCalls(true);
  try {
    const c = tf.matMul(a, b, ta, tb);
    const data = c.dataSync() as Float32Array;
    const shape = c.shape;
    c.dispose();
    return { data, shape, routed: nativeGemmCalls(true) };
  } finally {
    setNativeGemmActive(was);
  }
}

/** Largest |x − ref| / (Σ|a||b| + tiny): a relative error that is meaningful at any magnitude. */
function worstRelative(x: Float32Array, ref: Float64Array, mag: Float64Array): number {
  let worst = 0;
  for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(x[i] - ref[i]) / (mag[i] + 1e-30));
  return worst;
}

const shapeOf = (outer: number[], rows: number, cols: number, transposed: boolean) => [
  ...outer,
  ...(transposed ? [cols, rows] : [rows, cols]),
];

describe("native GEMM on the wasm backend", () => {
  it("initBackend reports whether the native GEMM is in use, and the fallback kernel still works", () => {
    expect(backend).toBe("wasm");
    const st = enableNativeGemm("wasm");
    expect(st.enabled).toBe(available && process.env.DPO_ARENA_NATIVE_GEMM !== "0");
    // whatever the addon state: with the native path off, matMul runs the original kernel
    const a = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]),
      b = tf.tensor2d([1, 0, 0, 1, 1, 1], [3, 2]);
    const r = matMulWith(false, a, b, false, false);
    expect(Array.from(r.data)).toEqual([4, 5, 10, 11]);
    if (st.enabled) expect(r.routed).toEqual({ native: 0, fallback: 1 });
    a.dispose();
    b.dispose();
  });

  const kernels = gemm ? gemm.kernels() : ["(none)"];
  for (const kernel of kernels) {
    it.runIf(active)(`${kernel} micro-kernel equals the original wasm kernel over random shapes and all transposes${notBuilt}`, () => {
      gemm!.setKernel(kernel);
      nativeGemmRouting.minRowsNN = 0; // every shape through the native GEMM, however few rows
      const rand = makeRng(kernel.length * 101 + 7);
      // edges of every blocking level: 1, around the micro-tile sizes (4/6/12 rows, 16/32
      // columns), past one KC slice (256) and past one NC block (1024 columns)
      const dims = [1, 2, 5, 11, 12, 13, 17, 31, 33, 64, 97];
      const cases: [number, number, number][] = [];
      for (let i = 0; i < 14; i++)
        cases.push([
          dims[Math.floor(rand() * dims.length)],
          dims[Math.floor(rand() * dims.length)],
          dims[Math.floor(rand() * dims.length)],
        ]);
      cases.push([37, 45, 300], [25, 1030, 19], [130, 70, 513], [3, 7, 1]);
      // exactly at and one past each blocking edge: one micro-tile (12 × 32), one MC block (96
      // rows of full 12-row panels, packed k-outermost), two MC blocks, one KC slice, one NC block
      cases.push([12, 32, 256], [96, 31, 255], [97, 33, 257], [193, 1025, 5], [49, 97, 512], [24, 64, 24]);
      let checked = 0;
      for (const [m, n, k] of cases)
        for (const ta of [false, true])
          for (const tb of [false, true]) {
            const aShape = shapeOf([], m, k, ta),
              bShape = shapeOf([], k, n, tb);
            const ad = randomArray(m * k, rand),
              bd = randomArray(k * n, rand);
            const a = tf.tensor(ad, aShape),
              b = tf.tensor(bd, bShape);
            const nat = matMulWith(true, a, b, ta, tb),
              orig = matMulWith(false, a, b, ta, tb);
            expect(nat.routed.native, `${m}x${k}x${n} ${ta}/${tb} took the native path`).toBe(1);
            expect(nat.shape).toEqual(orig.shape);
            const ref = reference(ad, aShape, bd, bShape, ta, tb);
            expect(worstRelative(nat.data, ref.out, ref.mag), `${m}x${k}x${n} ta=${ta} tb=${tb}`).toBeLessThan(2e-6);
            let diff = 0;
            for (let i = 0; i < orig.data.length; i++) diff = Math.max(diff, Math.abs(nat.data[i] - orig.data[i]) / (ref.mag[i] + 1e-30));
            expect(diff, `native vs original ${m}x${k}x${n} ta=${ta} tb=${tb}`).toBeLessThan(4e-6);
            a.dispose();
            b.dispose();
            checked++;
          }
      expect(checked).toBe(cases.length * 4);
    });
  }

  it.runIf(active)(`batched and broadcast matMuls equal the original kernel and a float64 reference${notBuilt}`, () => {
    gemm!.setKernel(gemm!.kernels()[0]);
    nativeGemmRouting.minRowsNN = 0;
    const rand = makeRng(99);
    // [outer dims of A, outer dims of B]; tfjs flattens the batch dims for its kernel
    const batches: [number[], number[]][] = [
      [[4], [4]],
      [[5], []], // one B for every A (a shared weight)
      [[], [3]], // one A for every B
      [[1], [6]],
      [
        [2, 3],
        [2, 3],
      ],
      [[2, 3], [3]], // trailing-dim broadcasting
      [[2, 3], [1]],
    ];
    for (const [oa, ob] of batches)
      for (const ta of [false, true])
        for (const tb of [false, true]) {
          const m = 1 + Math.floor(rand() * 20),
            n = 1 + Math.floor(rand() * 40),
            k = 1 + Math.floor(rand() * 30);
          const aShape = shapeOf(oa, m, k, ta),
            bShape = shapeOf(ob, k, n, tb);
          const ad = randomArray(
              aShape.reduce((x, y) => x * y, 1),
              rand,
            ),
            bd = randomArray(
              bShape.reduce((x, y) => x * y, 1),
              rand,
            );
          const a = tf.tensor(ad, aShape),
            b = tf.tensor(bd, bShape);
          const nat = matMulWith(true, a, b, ta, tb),
            orig = matMulWith(false, a, b, ta, tb);
          const label = `A${JSON.stringify(aShape)} B${JSON.stringify(bShape)} ta=${ta} tb=${tb}`;
          expect(nat.routed.native, label).toBe(1);
          expect(nat.shape, label).toEqual(orig.shape);
          const ref = reference(ad, aShape, bd, bShape, ta, tb);
          expect(nat.shape, label).toEqual(ref.shape);
          expect(worstRelative(nat.data, ref.out, ref.mag), label).toBeLessThan(2e-6);
          expect(worstRelative(orig.data, ref.out, ref.mag), `original kernel ${label}`).toBeLessThan(2e-5);
          a.dispose();
          b.dispose();
        }
  });

  it.runIf(active)(
    `leaves 2-D NN products with few rows to XNNPACK (it caches packed weights), and runs the rest natively${notBuilt}`,
    () => {
      nativeGemmRouting.minRowsNN = defaultMinRows;
      expect(defaultMinRows).toBeGreaterThan(1);
      const few = defaultMinRows - 1;
      const rand = makeRng(8);
      const cases: [number[], number[], boolean, boolean, "native" | "fallback"][] = [
        [[few, 16], [16, 40], false, false, "fallback"],
        [[defaultMinRows, 16], [16, 40], false, false, "native"],
        [[few, 16], [40, 16], false, true, "native"],
        [[16, few], [16, 40], true, false, "native"],
        [[3, few, 16], [16, 40], false, false, "native"],
      ];
      for (const [aShape, bShape, ta, tb, route] of cases) {
        const a = tf.tensor(
          randomArray(
            aShape.reduce((x, y) => x * y, 1),
            rand,
          ),
          aShape,
        );
        const b = tf.tensor(
          randomArray(
            bShape.reduce((x, y) => x * y, 1),
            rand,
          ),
          bShape,
        );
        const r = matMulWith(true, a, b, ta, tb);
        expect(r.routed[route], `${JSON.stringify(aShape)}·${JSON.stringify(bShape)} ${ta}/${tb} → ${route}`).toBe(1);
        a.dispose();
        b.dispose();
      }
    },
  );

  it.runIf(active)(`broadcasts batch dims that tfjs's own kernels flatten, e.g. (2,1) with (1,3), as numpy does${notBuilt}`, () => {
    // The original wasm kernel flattens the batch dims and indexes them modulo their size, which
    // is only right when one side is whole or a trailing suffix; the native kernel broadcasts.
    const rand = makeRng(5);
    for (const [oa, ob] of [
      [
        [2, 1],
        [1, 3],
      ],
      [[3, 1], [3]],
      [
        [1, 2, 1],
        [2, 1, 2],
      ],
    ] as [number[], number[]][]) {
      const m = 3,
        n = 5,
        k = 4;
      const aShape = shapeOf(oa, m, k, false),
        bShape = shapeOf(ob, k, n, true);
      const ad = randomArray(
          aShape.reduce((x, y) => x * y, 1),
          rand,
        ),
        bd = randomArray(
          bShape.reduce((x, y) => x * y, 1),
          rand,
        );
      const a = tf.tensor(ad, aShape),
        b = tf.tensor(bd, bShape);
      const nat = matMulWith(true, a, b, false, true);
      const ref = reference(ad, aShape, bd, bShape, false, true);
      expect(nat.shape).toEqual(ref.shape);
      expect(worstRelative(nat.data, ref.out, ref.mag)).toBeLessThan(2e-6);
      a.dispose();
      b.dispose();
    }
  });

  it.runIf(active)(`leaks neither tensors nor wasm memory, and rejects out-of-bounds operands${notBuilt}`, () => {
    const a = tf.randomNormal([64, 48]),
      b = tf.randomNormal([48, 80]);
    matMulWith(true, a, b, false, false);
    const before = tf.memory();
    for (let i = 0; i < 20; i++) matMulWith(true, a, b, false, false);
    const after = tf.memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numBytes).toBe(before.numBytes);
    a.dispose();
    b.dispose();
    const heap = new Float32Array(100);
    expect(() => gemm!.batchMatMul(heap, 0, 0, 0, 1, 10, 10, 1, false, false, 0, 0)).not.toThrow();
    expect(() => gemm!.batchMatMul(heap, 0, 0, 4, 1, 10, 10, 1, false, false, 0, 0)).toThrow(RangeError); // C runs past the end
    expect(() => gemm!.batchMatMul(heap, 0, 0, 0, 2, 5, 5, 4, false, false, 90, 0)).toThrow(RangeError); // A's batch runs past the end
    expect(() => gemm!.batchMatMul(heap, 2, 0, 0, 1, 1, 1, 1, false, false, 0, 0)).toThrow(RangeError); // misaligned
  });

  it.runIf(active)(`model log-probs and gradients agree with the native GEMM on and off${notBuilt}`, () => {
    const model = tinyModel(4, { ...TINY, nEmbd: 32, nHead: 4 });
    const rand = makeRng(3);
    const items: ScoreItem[] = Array.from({ length: 4 }, () => ({
      promptIds: randomIds(5, TINY.vocabSize, rand),
      completionIds: randomIds(6, TINY.vocabSize, rand),
    }));
    const run = (native: boolean) => {
      const was = setNativeGemmActive(native);
      nativeGemmCalls(true);
      try {
        const scores = Array.from(scoreCompletions(model, items).sum);
        const { grads } = logprobGrads(model, items, (lp) => ({
          loss: lp.reduce((s, x) => s + x, 0),
          dlogps: new Float64Array(lp.length).fill(1),
        }));
        const g = new Map([...grads].map(([name, t]) => [name, Float32Array.from(t.dataSync() as Float32Array)]));
        grads.forEach((t) => t.dispose());
        return { scores, g, routed: nativeGemmCalls(true) };
      } finally {
        setNativeGemmActive(was);
      }
    };
    const on = run(true),
      off = run(false);
    expect(on.routed.native).toBeGreaterThan(0);
    expect(on.routed.fallback).toBe(0);
    expect(off.routed.native).toBe(0);
    for (let i = 0; i < items.length; i++) expect(on.scores[i]).toBeCloseTo(off.scores[i], 4);
    for (const [name, gOff] of off.g) {
      const gOn = on.g.get(name)!;
      for (let i = 0; i < gOff.length; i++) expect(Math.abs(gOn[i] - gOff[i]), name).toBeLessThan(1e-4 * (1 + Math.abs(gOff[i])));
    }
    model.dispose();
  });

  it.runIf(active)(`is installed in worker threads that init their own wasm backend${notBuilt}`, async () => {
    const backendUrl = new URL("./backend.ts", import.meta.url).href;
    const nativeUrl = new URL("./native.ts", import.meta.url).href;
    const boot = `
      const { parentPort } = await import("node:worker_threads");
      (await import("tsx/esm/api")).register();
      const { useBackend } = await import(${JSON.stringify(backendUrl)});
      const { nativeGemmCalls } = await import(${JSON.stringify(nativeUrl)});
      const tf = await import("@tensorflow/tfjs-core");
      await useBackend("wasm");
      const c = tf.matMul(tf.ones([16, 8]), tf.ones([8, 8]));
      parentPort.postMessage({ calls: nativeGemmCalls(), sum: tf.sum(c).dataSync()[0] });`;
    const worker = new Worker(`(async () => {${boot}})().catch((e) => { throw e; })`, { eval: true, stderr: true });
    const reply = await new Promise<{ calls: { native: number; fallback: number }; sum: number }>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    });
    await worker.terminate();
    expect(reply.calls).toEqual({ native: 1, fallback: 0 });
    expect(reply.sum).toBe(16 * 8 * 8);
  });
});

/** Causal attention in float64, straight from the definition: per (row, head), scores over keys
 *  j ≤ i plus the additive bias, softmax, weighted values; and its gradients for a given dOut. */
function attentionReference(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  dOut: Float32Array,
  bias: Float32Array | null,
  a: {
    B: number;
    T: number;
    heads: number;
    kvHeads: number;
    headDim: number;
    qs: number;
    kvs: number;
    qCol: number;
    kCol: number;
    vCol: number;
  },
) {
  const { B, T, heads: H, kvHeads: KV, headDim: d, qs, kvs } = a;
  const C = H * d;
  const out = new Float64Array(B * T * C),
    dq = new Float64Array(B * T * C),
    dk = new Float64Array(B * T * KV * d),
    dv = new Float64Array(B * T * KV * d);
  const scale = 1 / Math.sqrt(d);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / (H / KV));
      const Q = (t: number, e: number) => q[(b * T + t) * qs + a.qCol + h * d + e];
      const K = (t: number, e: number) => k[(b * T + t) * kvs + a.kCol + g * d + e];
      const V = (t: number, e: number) => v[(b * T + t) * kvs + a.vCol + g * d + e];
      const dO = (t: number, e: number) => dOut[(b * T + t) * C + h * d + e];
      for (let i = 0; i < T; i++) {
        const s: number[] = [];
        for (let j = 0; j <= i; j++) {
          let x = 0;
          for (let e = 0; e < d; e++) x += Q(i, e) * K(j, e);
          s.push(x * scale + (bias ? bias[(b * T + i) * T + j] : 0));
        }
        const mx = Math.max(...s);
        const p = s.map((x) => Math.exp(x - mx));
        const z = p.reduce((x, y) => x + y, 0);
        for (let j = 0; j <= i; j++) p[j] /= z;
        const dp = p.map((_, j) => {
          let x = 0;
          for (let e = 0; e < d; e++) x += dO(i, e) * V(j, e);
          return x;
        });
        const dot = p.reduce((acc, pj, j) => acc + pj * dp[j], 0);
        for (let j = 0; j <= i; j++) {
          const ds = p[j] * (dp[j] - dot) * scale;
          for (let e = 0; e < d; e++) {
            out[(b * T + i) * C + h * d + e] += p[j] * V(j, e);
            dq[(b * T + i) * C + h * d + e] += ds * K(j, e);
            dk[(b * T + j) * KV * d + g * d + e] += ds * Q(i, e);
            dv[(b * T + j) * KV * d + g * d + e] += p[j] * dO(i, e);
          }
        }
      }
    }
  return { out, dq, dk, dv };
}

describe("fused causal attention (native, heads in place)", () => {
  const maxRel = (x: Float32Array, ref: Float64Array) => {
    let scale = 0,
      worst = 0;
    for (const r of ref) scale = Math.max(scale, Math.abs(r));
    for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(x[i] - ref[i]));
    return worst / (scale + 1e-30);
  };

  it.runIf(active)(`matches a float64 reference, forward and backward, packed and GQA, odd lengths, with a bias${notBuilt}`, () => {
    setNativeGemmActive(true);
    nativeGemmRouting.minRowsNN = defaultMinRows;
    gemm!.setKernel(gemm!.kernels()[0]);
    const { fusedAttentionAvailable, fusedAttentionBackward, fusedAttentionForward } = nativeApi;
    expect(fusedAttentionAvailable()).toBe(true);
    const rand = makeRng(21);
    // T crosses the kernel's 48-row query blocks; heads 6 with 2 and 6 KV heads; one packed c_attn layout
    const cases = [
      { B: 2, T: 1, heads: 2, kvHeads: 2, headDim: 8, packed: true, bias: false },
      { B: 2, T: 50, heads: 3, kvHeads: 3, headDim: 16, packed: true, bias: true },
      { B: 1, T: 97, heads: 6, kvHeads: 2, headDim: 8, packed: false, bias: true },
      { B: 3, T: 13, heads: 4, kvHeads: 1, headDim: 5, packed: false, bias: false },
    ];
    for (const c of cases) {
      const { B, T, heads, kvHeads, headDim: d } = c;
      const rows = B * T;
      const label = JSON.stringify(c);
      const qW = c.packed ? (heads + 2 * kvHeads) * d : heads * d + 3; // + 3: heads need not start at column 0
      const kvW = c.packed ? qW : kvHeads * d;
      const cols = c.packed ? { qCol: 0, kCol: heads * d, vCol: (heads + kvHeads) * d } : { qCol: 3, kCol: 0, vCol: 0 };
      const qd = randomArray(rows * qW, rand),
        kd = c.packed ? qd : randomArray(rows * kvW, rand),
        vd = c.packed ? qd : randomArray(rows * kvW, rand);
      const dOut = randomArray(rows * heads * d, rand);
      let bias: Float32Array | null = null;
      if (c.bias) {
        bias = new Float32Array(B * T * T);
        // a tree-like mask: some keys below the diagonal hidden (never the diagonal), the rest 0 or a small offset
        for (let i = 0; i < bias.length; i++) {
          const r = Math.floor(i / T) % T,
            j = i % T;
          bias[i] = j < r && rand() < 0.3 ? -1e9 : rand() - 0.5;
        }
      }
      const attrs = { B, T, heads, kvHeads, headDim: d, ...cols };
      const ref = attentionReference(qd, kd, vd, dOut, bias, { ...attrs, qs: qW, kvs: kvW });
      const before = tf.memory().numTensors;
      const got = tf.tidy(() => {
        const q = tf.tensor2d(qd, [rows, qW]);
        const k = c.packed ? q : tf.tensor2d(kd, [rows, kvW]);
        const v = c.packed ? q : tf.tensor2d(vd, [rows, kvW]);
        const bt = bias ? tf.tensor3d(bias, [B, T, T]) : null;
        const { out, probs } = fusedAttentionForward(q, k, v, bt, attrs);
        const p = probs.dataSync() as Float32Array;
        // masked probabilities are exact zeros and every row sums to 1
        for (let r = 0; r < B * heads * T; r++) {
          const i = r % T;
          let sum = 0;
          for (let j = 0; j < T; j++) {
            if (j > i) expect(p[r * T + j], label).toBe(0);
            sum += p[r * T + j];
          }
          expect(sum, label).toBeCloseTo(1, 5);
        }
        const g = fusedAttentionBackward(q, k, v, probs, tf.tensor2d(dOut, [rows, heads * d]), attrs);
        return { out: out.dataSync() as Float32Array, g: g.map((t) => ({ shape: t.shape, data: t.dataSync() as Float32Array })) };
      });
      expect(tf.memory().numTensors, `${label}: no tensor leaked`).toBe(before);
      expect(maxRel(got.out, ref.out), `${label} out`).toBeLessThan(1e-5);
      const pick = (data: Float32Array, width: number, col: number, w: number) => {
        const o = new Float32Array(rows * w);
        for (let r = 0; r < rows; r++) o.set(data.subarray(r * width + col, r * width + col + w), r * w);
        return o;
      };
      if (c.packed) {
        expect(got.g.length).toBe(1);
        expect(got.g[0].shape).toEqual([rows, qW]);
        expect(maxRel(pick(got.g[0].data, qW, cols.qCol, heads * d), ref.dq), `${label} dq`).toBeLessThan(1e-5);
        expect(maxRel(pick(got.g[0].data, qW, cols.kCol, kvHeads * d), ref.dk), `${label} dk`).toBeLessThan(1e-5);
        expect(maxRel(pick(got.g[0].data, qW, cols.vCol, kvHeads * d), ref.dv), `${label} dv`).toBeLessThan(1e-5);
      } else {
        expect(got.g.map((g) => g.shape)).toEqual([
          [rows, heads * d],
          [rows, kvHeads * d],
          [rows, kvHeads * d],
        ]);
        expect(maxRel(got.g[0].data, ref.dq), `${label} dq`).toBeLessThan(1e-5);
        expect(maxRel(got.g[1].data, ref.dk), `${label} dk`).toBeLessThan(1e-5);
        expect(maxRel(got.g[2].data, ref.dv), `${label} dv`).toBeLessThan(1e-5);
      }
    }
  });

  it.runIf(active)(
    `is differentiable with tf.grads (separate q, k, v, as the Llama layers use it) and matches the reference${notBuilt}`,
    () => {
      const { fusedAttentionForward } = nativeApi;
      const rand = makeRng(23);
      const B = 2,
        T = 53,
        heads = 4,
        kvHeads = 2,
        d = 8;
      const rows = B * T;
      const qd = randomArray(rows * heads * d, rand),
        kd = randomArray(rows * kvHeads * d, rand),
        vd = randomArray(rows * kvHeads * d, rand),
        w = randomArray(rows * heads * d, rand);
      const attrs = { B, T, heads, kvHeads, headDim: d, qCol: 0, kCol: 0, vCol: 0 };
      const ref = attentionReference(qd, kd, vd, w, null, { ...attrs, qs: heads * d, kvs: kvHeads * d });
      const got = tf.tidy(() => {
        const f = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) =>
          tf.sum(
            tf.mul(
              fusedAttentionForward(q as tf.Tensor2D, k as tf.Tensor2D, v as tf.Tensor2D, null, attrs).out,
              tf.tensor2d(w, [rows, heads * d]),
            ),
          );
        const g = tf.grads(f)([
          tf.tensor2d(qd, [rows, heads * d]),
          tf.tensor2d(kd, [rows, kvHeads * d]),
          tf.tensor2d(vd, [rows, kvHeads * d]),
        ]);
        return g.map((t) => t.dataSync() as Float32Array);
      });
      expect(maxRel(got[0], ref.dq), "dq").toBeLessThan(1e-5);
      expect(maxRel(got[1], ref.dk), "dk").toBeLessThan(1e-5);
      expect(maxRel(got[2], ref.dv), "dv").toBeLessThan(1e-5);
    },
  );

  it.runIf(active)(`rejects operands that do not fit the heap or the shape${notBuilt}`, () => {
    const heap = new Float32Array(64);
    // B=1, T=4, 2 heads of 2: q needs 4 rows of 4 floats, probs 2·4·4 = 32 floats
    expect(() => gemm!.attentionForward(heap, 1, 4, 2, 2, 2, 0, 4, 0, 0, 4, -1, 0, 4, 64)).not.toThrow();
    expect(() => gemm!.attentionForward(heap, 1, 4, 2, 2, 2, 0, 4, 0, 0, 4, -1, 0, 4, 132)).toThrow(RangeError); // probs past the end
    expect(() => gemm!.attentionForward(heap, 1, 4, 3, 2, 2, 0, 8, 0, 0, 8, -1, 0, 8, 0)).toThrow(RangeError); // 3 heads, 2 KV heads
    expect(() => gemm!.attentionForward(heap, 1, 4, 2, 2, 2, 0, 3, 0, 0, 4, -1, 0, 4, 64)).toThrow(RangeError); // row narrower than the heads
    expect(() => gemm!.attentionBackward(heap, 1, 4, 2, 2, 2, 0, 4, 0, 0, 4, 64, 0, 4, 0, 4, 0, 0, 4)).not.toThrow();
    expect(() => gemm!.attentionBackward(heap, 1, 4, 2, 2, 2, 0, 4, 0, 0, 4, 64, 0, 4, 200, 4, 0, 0, 4)).toThrow(RangeError); // dq past the end
  });
});

describe("fused GELU (native)", () => {
  it.runIf(active)(`gelu_new and its derivative match float64 on every kernel path, odd lengths and large |u|${notBuilt}`, () => {
    setNativeGemmActive(true);
    const { fusedAttentionAvailable, fusedGelu, fusedGeluBackward } = nativeApi;
    expect(fusedAttentionAvailable()).toBe(true);
    const c = Math.sqrt(2 / Math.PI),
      a = 0.044715;
    const ref = (u: number) => 0.5 * u * (1 + Math.tanh(c * (u + a * u ** 3))); // the HF definition, tanh form
    const dref = (u: number) => {
      const t = Math.tanh(c * (u + a * u ** 3));
      return 0.5 * (1 + t) + 0.5 * u * (1 - t * t) * c * (1 + 3 * a * u * u);
    };
    const rand = makeRng(31);
    try {
      for (const kernel of gemm!.kernels()) {
        gemm!.setKernel(kernel); // "avx512" takes the vector path, the others the scalar one
        for (const n of [1, 15, 16, 17, 1001]) {
          const u = Float32Array.from({ length: n }, (_, i) => (i % 7 === 0 ? 40 * (rand() - 0.5) : 6 * (rand() - 0.5)));
          const dg = randomArray(n, rand);
          const [g, du] = tf.tidy(() => {
            const ut = tf.tensor1d(u);
            return [fusedGelu(ut).dataSync() as Float32Array, fusedGeluBackward(tf.tensor1d(dg), ut).dataSync() as Float32Array];
          });
          for (let i = 0; i < n; i++) {
            expect(Math.abs(g[i] - ref(u[i])), `${kernel} gelu(${u[i]})`).toBeLessThan(2e-6 * (1 + Math.abs(u[i])));
            expect(Math.abs(du[i] - dg[i] * dref(u[i])), `${kernel} gelu'(${u[i]})`).toBeLessThan(2e-6 * (1 + Math.abs(dg[i])));
          }
        }
      }
    } finally {
      gemm!.setKernel(gemm!.kernels()[0]);
    }
  });
});

describe("fused LayerNorm (native)", () => {
  it.runIf(active)(`forward and backward match float64, odd shapes and rows with a large mean${notBuilt}`, () => {
    setNativeGemmActive(true);
    const { fusedAttentionAvailable, fusedLayerNorm, fusedLayerNormBackward } = nativeApi;
    expect(fusedAttentionAvailable()).toBe(true);
    const rand = makeRng(41);
    for (const [rows, cols] of [
      [1, 1],
      [3, 7],
      [37, 256],
      [5, 1001],
    ]) {
      const eps = 1e-5;
      const x = Float32Array.from({ length: rows * cols }, (_, i) => 3 * (rand() - 0.5) + (Math.floor(i / cols) % 2 ? 50 : 0));
      const g = randomArray(cols, rand),
        b = randomArray(cols, rand),
        dy = randomArray(rows * cols, rand);
      // float64 reference, straight from the definitions
      const y = new Float64Array(rows * cols),
        xh = new Float64Array(rows * cols),
        dx = new Float64Array(rows * cols),
        dg = new Float64Array(cols),
        db = new Float64Array(cols);
      for (let r = 0; r < rows; r++) {
        let mean = 0;
        for (let j = 0; j < cols; j++) mean += x[r * cols + j] / cols;
        let v = 0;
        for (let j = 0; j < cols; j++) v += (x[r * cols + j] - mean) ** 2 / cols;
        const rs = 1 / Math.sqrt(v + eps);
        let m1 = 0,
          m2 = 0;
        for (let j = 0; j < cols; j++) {
          const i = r * cols + j;
          xh[i] = (x[i] - mean) * rs;
          y[i] = xh[i] * g[j] + b[j];
          dg[j] += dy[i] * xh[i];
          db[j] += dy[i];
          m1 += (dy[i] * g[j]) / cols;
          m2 += (dy[i] * g[j] * xh[i]) / cols;
        }
        for (let j = 0; j < cols; j++) dx[r * cols + j] = rs * (dy[r * cols + j] * g[j] - m1 - xh[r * cols + j] * m2);
      }
      const got = tf.tidy(() => {
        const f = fusedLayerNorm(tf.tensor2d(x, [rows, cols]), tf.tensor1d(g), tf.tensor1d(b), eps);
        expect(f.rstd.shape).toEqual([rows, 1]);
        const bw = fusedLayerNormBackward(tf.tensor2d(dy, [rows, cols]), f.xhat, f.rstd, tf.tensor1d(g));
        return [f.y, f.xhat, bw.dx, bw.dg, bw.db].map((t) => t.dataSync() as Float32Array);
      });
      const worst = (a: Float32Array, ref: Float64Array) => {
        let s = 0,
          w = 0;
        for (const r of ref) s = Math.max(s, Math.abs(r));
        for (let i = 0; i < ref.length; i++) w = Math.max(w, Math.abs(a[i] - ref[i]));
        return w / (s + 1e-30);
      };
      const label = `${rows}x${cols}`;
      expect(worst(got[0], y), `${label} y`).toBeLessThan(1e-5);
      expect(worst(got[1], xh), `${label} xhat`).toBeLessThan(1e-5);
      if (cols > 1) expect(worst(got[2], dx), `${label} dx`).toBeLessThan(1e-4);
      expect(worst(got[3], dg), `${label} dg`).toBeLessThan(1e-5);
      expect(worst(got[4], db), `${label} db`).toBeLessThan(1e-5);
    }
  });
});
