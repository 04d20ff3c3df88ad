// What both model families (GPT-2 and the Llama family) keep of their weights: tensors under
// their Hugging Face names, lazily cached transposes of 2-D weights so input gradients and tied
// heads stay fast NN matMuls, a version that grows with every change (gradient workers resync on
// it), and disposal. A subclass says which names and shapes its config implies.
import * as tf from "@tensorflow/tfjs-core";
import { transposedMatMulsFast } from "./ops.ts";

export abstract class ParamStore {
  protected params = new Map<string, tf.Tensor>();
  /** W^T copies of 2-D weights, so input gradients dX = dY @ W^T stay NN matMuls. */
  private transposed = new Map<string, tf.Tensor2D>();
  private disposed = false;
  private paramVersion = 0;

  /** Every parameter's name and (internal) shape, in a stable order. */
  protected abstract paramShapeList(): [string, number[]][];
  /** How error messages name the model ("GPT", "qwen3 model"). */
  protected abstract get label(): string;

  dispose(): void {
    if (this.disposed) return;
    for (const v of this.params.values()) v.dispose();
    this.invalidateTransposes();
    this.params.clear();
    this.disposed = true;
  }

  paramNames(): string[] {
    return this.paramShapeList().map(([n]) => n);
  }

  getParam(name: string): tf.Tensor {
    this.assertLive();
    const p = this.params.get(name);
    if (!p) throw new Error(`${this.label} has no parameter "${name}"`);
    return p;
  }

  /** Increases whenever a parameter changes, so copies elsewhere (workers) know to resync. */
  get version(): number {
    return this.paramVersion;
  }

  /** Replaces the given parameters (shapes must match); takes ownership of tensors passed in. */
  setParams(values: Map<string, tf.Tensor | Float32Array>): void {
    this.assertLive();
    this.paramVersion++;
    const shapes = new Map(this.paramShapeList());
    for (const [name, v] of values) {
      const shape = shapes.get(name);
      if (!shape) throw new Error(`${this.label} has no parameter "${name}"`);
      const t = toTensor(name, v, shape);
      const old = this.params.get(name);
      if (old && old !== t) old.dispose();
      this.params.set(name, t);
      const tt = this.transposed.get(name);
      if (tt) {
        tt.dispose();
        this.transposed.delete(name);
      }
    }
  }

  numParams(): number {
    let n = 0;
    for (const [, s] of this.paramShapeList()) n += s.reduce((a, b) => a * b, 1);
    return n;
  }

  /**
   * x·Wᵀ for a 2-D weight W (input gradients, the LM head): with fast transposed matMuls (see
   * ops.ts) the kernel reads W transposed; otherwise an NN matMul with the cached Wᵀ copy.
   */
  matMulWeightT(x: tf.Tensor2D, name: string): tf.Tensor2D {
    if (transposedMatMulsFast()) return tf.matMul(x, this.getParam(name) as tf.Tensor2D, false, true) as tf.Tensor2D;
    return tf.matMul(x, this.weightT(name)) as tf.Tensor2D;
  }

  /** The cached transpose of a 2-D weight; rebuilt lazily after the weight changes. */
  weightT(name: string): tf.Tensor2D {
    let t = this.transposed.get(name);
    if (!t) {
      const w = this.getParam(name);
      if (w.rank !== 2) throw new Error(`weightT: ${name} is not 2-D`);
      t = tf.keep(tf.transpose(w as tf.Tensor2D));
      this.transposed.set(name, t);
    }
    return t;
  }

  invalidateTransposes(): void {
    for (const t of this.transposed.values()) t.dispose();
    this.transposed.clear();
  }

  protected assertLive(): void {
    if (this.disposed) throw new Error(`${this.label} has been disposed`);
  }
}

/** A parameter value as a float32 tensor of `shape`, refusing a wrong size, shape or dtype. */
export function toTensor(name: string, v: tf.Tensor | Float32Array, shape: number[]): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (v instanceof Float32Array) {
    if (v.length !== n) throw new Error(`parameter ${name}: expected ${n} values for shape [${shape}], got ${v.length}`);
    return tf.tensor(v, shape, "float32");
  }
  if (v.size !== n || v.rank !== shape.length || v.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`parameter ${name}: expected shape [${shape}], got [${v.shape}]`);
  }
  if (v.dtype !== "float32") throw new Error(`parameter ${name}: expected float32, got ${v.dtype}`);
  return v;
}
