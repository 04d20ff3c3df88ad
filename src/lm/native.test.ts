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
