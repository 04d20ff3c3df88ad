// Gradients of the few tfjs kernels the Llama layers use. tfjs-core registers no gradients by
// itself (the @tensorflow/tfjs bundle does, through an ES-module file Node cannot load from
// tfjs-core's package), so the ones needed are registered here, unless something else already
// registered them. Broadcasting inputs get their gradient summed back to their own shape.
import * as tf from "@tensorflow/tfjs-core";

type Saved = tf.Tensor[];
type GradFunc = (dy: tf.Tensor, saved: Saved, attrs: Record<string, unknown>) => Record<string, () => tf.Tensor>;

function reduceTo(g: tf.Tensor, shape: number[]): tf.Tensor {
  const axes = tf.backend_util.getReductionAxes(shape, g.shape);
  const r = axes.length ? tf.sum(g, axes) : g;
  return tf.reshape(r, shape);
}

function keptShape(xShape: number[], axis: unknown): number[] {
  const axes = tf.util.parseAxisParam(axis as number | number[], xShape);
  return xShape.map((d, i) => (axes.includes(i) ? 1 : d));
}

const configs: [string, string[] | null, boolean, GradFunc][] = [
  ["Add", ["a", "b"], false, (dy, [a, b]) => ({ a: () => reduceTo(dy, a.shape), b: () => reduceTo(dy, b.shape) })],
  ["Sub", ["a", "b"], false, (dy, [a, b]) => ({ a: () => reduceTo(dy, a.shape), b: () => reduceTo(tf.neg(dy), b.shape) })],
  [
    "Multiply",
    ["a", "b"],
    false,
    (dy, [a, b]) => ({ a: () => reduceTo(tf.mul(dy, b), a.shape), b: () => reduceTo(tf.mul(dy, a), b.shape) }),
  ],
  ["Square", ["x"], false, (dy, [x]) => ({ x: () => tf.mul(dy, tf.mul(x, 2)) })],
  ["Rsqrt", ["x"], false, (dy, [x]) => ({ x: () => tf.mul(dy, tf.div(tf.mul(tf.rsqrt(x), -0.5), x)) })],
  ["Neg", null, false, (dy) => ({ x: () => tf.neg(dy) })],
  [
    "Sigmoid",
    ["x"],
    false,
    (dy, [x]) => ({
      x: () => {
        const y = tf.sigmoid(x);
        return tf.mul(dy, tf.mul(y, tf.sub(1, y)));
      },
    }),
  ],
  ["Softmax", null, true, (dy, [y], attrs) => ({ logits: () => tf.mul(y, tf.sub(dy, tf.sum(tf.mul(dy, y), attrs.dim as number, true))) })],
  ["Reshape", ["x"], false, (dy, [x]) => ({ x: () => tf.reshape(dy, x.shape) })],
  [
    "Transpose",
    null,
    false,
    (dy, _s, attrs) => {
      const perm = attrs.perm as number[];
      const inv = new Array<number>(perm.length);
      perm.forEach((p, i) => (inv[p] = i));
      return { x: () => tf.transpose(dy, inv) };
    },
  ],
  ["Sum", ["x"], false, (dy, [x], attrs) => ({ x: () => tf.mul(tf.reshape(dy, keptShape(x.shape, attrs.axis)), tf.ones(x.shape)) })],
  [
    "Mean",
    ["x"],
    false,
    (dy, [x], attrs) => {
      const kept = keptShape(x.shape, attrs.axis);
      const n = x.size / kept.reduce((a, b) => a * b, 1);
      return { x: () => tf.mul(tf.reshape(dy, kept), tf.fill(x.shape, 1 / n)) };
    },
  ],
  [
    "BatchMatMul",
    ["a", "b"],
    false,
    (dy, [a, b], attrs) => {
      const tA = attrs.transposeA as boolean,
        tB = attrs.transposeB as boolean;
      if (!tA && !tB) return { a: () => tf.matMul(dy, b, false, true), b: () => tf.matMul(a, dy, true, false) };
      if (!tA && tB) return { a: () => tf.matMul(dy, b, false, false), b: () => tf.matMul(dy, a, true, false) };
      if (tA && !tB) return { a: () => tf.matMul(b, dy, false, true), b: () => tf.matMul(a, dy, false, false) };
      return { a: () => tf.matMul(b, dy, true, true), b: () => tf.matMul(dy, a, true, true) };
    },
  ],
];

let done = false;

/** Registers the gradients above for kernels that have none yet (idempotent). */
export function ensureGradients(): void {
  if (done) return;
  done = true;
  for (const [kernelName, inputsToSave, saveOutput, gradFunc] of configs) {
    if (tf.getGradient(kernelName)) continue;
    tf.registerGradient({
      kernelName,
      inputsToSave: inputsToSave ?? [],
      outputsToSave: saveOutput ? [true] : undefined,
      gradFunc: gradFunc as unknown as tf.GradConfig["gradFunc"],
    });
  }
}
