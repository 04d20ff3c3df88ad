// The GPT-2 architecture's parameters: learned positions, pre-LayerNorm blocks, GELU MLP,
// LM head tied to the token embedding. Weights use Hugging Face GPT-2 names and Conv1D
// layout (in, out), so a forward linear layer is x @ W: the fast 2-D NN matMul on wasm.
// The maths that uses these parameters lives in forward.ts (training/scoring) and
// decode.ts (incremental decoding); both are hand-differentiated, not autodiff.
import * as tf from "@tensorflow/tfjs-core";
import { ParamStore, toTensor } from "./param-store.ts";

export interface GPTConfig {
  vocabSize: number;
  /** Maximum sequence length (learned position embeddings). */
  nPositions: number;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  /** 1e-5 in GPT-2. */
  layerNormEpsilon: number;
}

export function validateConfig(c: GPTConfig): void {
  for (const k of ["vocabSize", "nPositions", "nEmbd", "nLayer", "nHead"] as const) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) throw new Error(`GPTConfig.${k} must be a positive integer, got ${c[k]}`);
  }
  if (c.nEmbd % c.nHead !== 0) throw new Error(`GPTConfig.nEmbd (${c.nEmbd}) must be divisible by nHead (${c.nHead})`);
  if (!(c.layerNormEpsilon > 0)) throw new Error(`GPTConfig.layerNormEpsilon must be > 0`);
}

/** Every parameter's HF name and shape, in a stable order. */
export function paramShapes(c: GPTConfig): [string, number[]][] {
  const C = c.nEmbd;
  const out: [string, number[]][] = [
    ["transformer.wte.weight", [c.vocabSize, C]],
    ["transformer.wpe.weight", [c.nPositions, C]],
  ];
  for (let l = 0; l < c.nLayer; l++) {
    const p = `transformer.h.${l}.`;
    out.push(
      [`${p}ln_1.weight`, [C]],
      [`${p}ln_1.bias`, [C]],
      [`${p}attn.c_attn.weight`, [C, 3 * C]],
      [`${p}attn.c_attn.bias`, [3 * C]],
      [`${p}attn.c_proj.weight`, [C, C]],
      [`${p}attn.c_proj.bias`, [C]],
      [`${p}ln_2.weight`, [C]],
      [`${p}ln_2.bias`, [C]],
      [`${p}mlp.c_fc.weight`, [C, 4 * C]],
      [`${p}mlp.c_fc.bias`, [4 * C]],
      [`${p}mlp.c_proj.weight`, [4 * C, C]],
      [`${p}mlp.c_proj.bias`, [C]],
    );
  }
  out.push(["transformer.ln_f.weight", [C]], ["transformer.ln_f.bias", [C]]);
  return out;
}

/** Deterministic uniform [0, 1) stream (mulberry32), so init, sampling and data order do not depend on the backend. */
export function makeRng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normals(n: number, std: number, rand: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = Math.max(rand(), 1e-12);
    const u2 = rand();
    const r = Math.sqrt(-2 * Math.log(u1)) * std;
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

export class GPT extends ParamStore {
  readonly arch = "gpt2" as const;
  readonly config: GPTConfig;

  private constructor(config: GPTConfig) {
    super();
    validateConfig(config);
    this.config = { ...config };
  }

  protected paramShapeList(): [string, number[]][] {
    return paramShapes(this.config);
  }

  protected get label(): string {
    return "GPT";
  }

  /** GPT-2 init: N(0, 0.02), residual projections N(0, 0.02/sqrt(2·nLayer)), LN (1, 0), biases 0. */
  static create(config: GPTConfig, seed: number): GPT {
    const m = new GPT(config);
    const rand = makeRng(seed);
    const residStd = 0.02 / Math.sqrt(2 * config.nLayer);
    for (const [name, shape] of paramShapes(config)) {
      const n = shape.reduce((a, b) => a * b, 1);
      let v: Float32Array;
      if (name.endsWith("ln_1.weight") || name.endsWith("ln_2.weight") || name.endsWith("ln_f.weight")) v = new Float32Array(n).fill(1);
      else if (shape.length === 1) v = new Float32Array(n);
      else v = normals(n, name.endsWith("c_proj.weight") ? residStd : 0.02, rand);
      m.params.set(name, tf.tensor(v, shape, "float32"));
    }
    return m;
  }

  /** Builds a model from complete parameter values (checked for names and shapes). */
  static fromParams(config: GPTConfig, values: Map<string, tf.Tensor | Float32Array>): GPT {
    const m = new GPT(config);
    for (const [name, shape] of paramShapes(config)) {
      const v = values.get(name);
      if (!v) throw new Error(`missing parameter ${name}`);
      m.params.set(name, toTensor(name, v, shape));
    }
    return m;
  }

  clone(): GPT {
    this.assertLive();
    const m = new GPT(this.config);
    for (const [k, v] of this.params) m.params.set(k, v.clone());
    return m;
  }
}
