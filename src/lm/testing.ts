// Helpers shared by this folder's tests (tiny models with non-trivial weights).
import type * as tf from "@tensorflow/tfjs-core";
import { GPT, type GPTConfig, makeRng } from "./model.ts";

export const TINY: GPTConfig = { vocabSize: 13, nPositions: 16, nEmbd: 8, nLayer: 2, nHead: 2, layerNormEpsilon: 1e-5 };

/** A tiny GPT whose weights are large enough that attention and LayerNorm are far from trivial. */
export function tinyModel(seed = 1, config: GPTConfig = TINY, std = 0.3): GPT {
  const m = GPT.create(config, seed);
  const rand = makeRng(seed * 7919 + 1);
  const vals = new Map<string, Float32Array>();
  for (const n of m.paramNames()) {
    const p = m.getParam(n);
    const d = Float32Array.from(p.dataSync() as Float32Array);
    for (let i = 0; i < d.length; i++) d[i] += (rand() * 2 - 1) * std * Math.sqrt(3);
    vals.set(n, d);
  }
  m.setParams(vals);
  return m;
}

export function randomIds(n: number, vocab: number, rand: () => number): number[] {
  return Array.from({ length: n }, () => Math.floor(rand() * vocab));
}

export function values(t: tf.Tensor): Float32Array {
  return Float32Array.from(t.dataSync() as Float32Array);
}
