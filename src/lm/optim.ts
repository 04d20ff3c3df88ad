// AdamW (decoupled weight decay, Loshchilov & Hutter) and global-norm gradient clipping.
import * as tf from "@tensorflow/tfjs-core";
import type { CausalLM } from "./causal.ts";

export function disposeGrads(grads: Map<string, tf.Tensor>): void {
  for (const g of grads.values()) g.dispose();
  grads.clear();
}

/** Scales all gradients in place so their global L2 norm is at most maxNorm; returns the norm before clipping. */
export function clipGradNorm(grads: Map<string, tf.Tensor>, maxNorm: number): number {
  let sq = 0;
  for (const g of grads.values()) {
    const s = tf.tidy(() => tf.sum(tf.square(g)));
    sq += (s.dataSync() as Float32Array)[0];
    s.dispose();
  }
  const norm = Math.sqrt(sq);
  if (!Number.isFinite(norm)) throw new Error(`gradient norm is ${norm}: the loss diverged or produced NaN`);
  if (norm > maxNorm && norm > 0) {
    const k = maxNorm / norm;
    for (const [n, g] of grads) {
      grads.set(n, tf.mul(g, k));
      g.dispose();
    }
  }
  return norm;
}

export interface AdamWOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

export class AdamW {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  private m = new Map<string, tf.Tensor>();
  private v = new Map<string, tf.Tensor>();
  /** Moments of Llama-family models, kept in JS memory: see stepHost. */
  private hostM = new Map<string, Float32Array>();
  private hostV = new Map<string, Float32Array>();
  private t = 0;

  constructor(opts: AdamWOptions) {
    if (!(opts.lr > 0)) throw new Error(`AdamW: lr must be > 0, got ${opts.lr}`);
    this.lr = opts.lr;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.01;
  }

  get stepCount(): number {
    return this.t;
  }

  /** One update of every parameter that has a gradient. Weight decay applies to 2-D weights only. */
  step(model: CausalLM, grads: Map<string, tf.Tensor>, lr: number = this.lr): void {
    if (model.arch === "llama") return this.stepHost(model, grads, lr);
    this.t++;
    const bc1 = 1 - this.beta1 ** this.t;
    const bc2 = 1 - this.beta2 ** this.t;
    const updated = new Map<string, tf.Tensor>();
    for (const [name, g] of grads) {
      const p = model.getParam(name);
      const m0 = this.m.get(name);
      const v0 = this.v.get(name);
      const [m1, v1, p1] = tf.tidy(() => {
        const m = m0 ? tf.add(tf.mul(m0, this.beta1), tf.mul(g, 1 - this.beta1)) : tf.mul(g, 1 - this.beta1);
        const v = v0 ? tf.add(tf.mul(v0, this.beta2), tf.mul(tf.square(g), 1 - this.beta2)) : tf.mul(tf.square(g), 1 - this.beta2);
        const upd = tf.div(tf.mul(m, lr / bc1), tf.add(tf.sqrt(tf.div(v, bc2)), this.eps));
        const decayed = p.rank === 2 && this.weightDecay > 0 ? tf.mul(p, 1 - lr * this.weightDecay) : p;
        return [m, v, tf.sub(decayed, upd)];
      });
      m0?.dispose();
      v0?.dispose();
      this.m.set(name, m1);
      this.v.set(name, v1);
      updated.set(name, p1);
    }
    model.setParams(updated);
  }

  /**
   * The same update with the moments in JS memory, one parameter at a time. A 135M-parameter
   * model's weights, gradients and two moments would fill most of the wasm backend's 4 GB heap
   * (and the update's temporaries for the embedding overflowed it); here the heap holds only
   * weights, gradients and one new parameter at a time.
   */
  private stepHost(model: CausalLM, grads: Map<string, tf.Tensor>, lr: number): void {
    this.t++;
    const b1 = this.beta1,
      b2 = this.beta2,
      eps = this.eps;
    const bc1 = 1 - b1 ** this.t;
    const bc2 = 1 - b2 ** this.t;
    for (const [name, gt] of grads) {
      const pt = model.getParam(name);
      const g = gt.dataSync() as Float32Array;
      // wasm's dataSync is already a fresh copy of its heap (a second one cost 0.1 GB at the peak
      // for a 135M model's embedding); cpu may hand back the tensor's own store, not to be written
      const raw = pt.dataSync() as Float32Array;
      const p = tf.getBackend() === "wasm" ? raw : Float32Array.from(raw);
      let m = this.hostM.get(name),
        v = this.hostV.get(name);
      if (!m || !v) {
        m = new Float32Array(p.length);
        v = new Float32Array(p.length);
        this.hostM.set(name, m);
        this.hostV.set(name, v);
      }
      const decay = pt.rank === 2 && this.weightDecay > 0 ? 1 - lr * this.weightDecay : 1;
      const k = lr / bc1;
      for (let i = 0; i < p.length; i++) {
        const gi = g[i];
        const mi = (m[i] = b1 * m[i] + (1 - b1) * gi);
        const vi = (v[i] = b2 * v[i] + (1 - b2) * gi * gi);
        p[i] = p[i] * decay - (k * mi) / (Math.sqrt(vi / bc2) + eps);
      }
      model.setParams(new Map([[name, p]])); // frees the old tensor before the next parameter
    }
  }

  /** Moments for checkpointing/resuming a run (GPT-2 models; a Llama-family model's moments stay internal). */
  state(): { t: number; m: Map<string, tf.Tensor>; v: Map<string, tf.Tensor> } {
    return { t: this.t, m: this.m, v: this.v };
  }

  loadState(s: { t: number; m: Map<string, tf.Tensor>; v: Map<string, tf.Tensor> }): void {
    this.dispose();
    this.t = s.t;
    this.m = s.m;
    this.v = s.v;
  }

  dispose(): void {
    for (const x of this.m.values()) x.dispose();
    for (const x of this.v.values()) x.dispose();
    this.m.clear();
    this.v.clear();
    this.hostM.clear();
    this.hostV.clear();
  }
}
