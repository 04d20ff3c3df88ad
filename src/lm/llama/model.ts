// LlamaModel's parameters, under their Hugging Face names. Linear weights are kept in (in, out)
// layout (HF stores nn.Linear as (out, in)) so every forward linear layer is the fast 2-D NN
// matMul, as GPT-2's Conv1D weights are; the checkpoint code transposes on load and save.
// The embedding and an untied lm_head keep HF's (V, C) layout (a gather table; the head is
// read transposed, like GPT-2's tied head).
import * as tf from "@tensorflow/tfjs-core";
import { makeRng } from "../model.ts";
import { ParamStore, toTensor } from "../param-store.ts";
import type { LlamaConfig } from "./config.ts";

/** Names whose internal layout is the transpose of the HF tensor. */
export function isTransposedLinear(name: string): boolean {
  return name.endsWith("_proj.weight");
}

/** Every parameter's HF name and internal shape, in a stable order. */
export function llamaParamShapes(c: LlamaConfig): [string, number[]][] {
  const C = c.nEmbd,
    q = c.nHead * c.headDim,
    kv = c.nKVHead * c.headDim,
    I = c.intermediateSize;
  const out: [string, number[]][] = [["model.embed_tokens.weight", [c.vocabSize, C]]];
  for (let l = 0; l < c.nLayer; l++) {
    const p = `model.layers.${l}.`;
    out.push(
      [`${p}input_layernorm.weight`, [C]],
      [`${p}self_attn.q_proj.weight`, [C, q]],
      [`${p}self_attn.k_proj.weight`, [C, kv]],
      [`${p}self_attn.v_proj.weight`, [C, kv]],
    );
    if (c.attentionBias)
      out.push([`${p}self_attn.q_proj.bias`, [q]], [`${p}self_attn.k_proj.bias`, [kv]], [`${p}self_attn.v_proj.bias`, [kv]]);
    if (c.qkNorm) out.push([`${p}self_attn.q_norm.weight`, [c.headDim]], [`${p}self_attn.k_norm.weight`, [c.headDim]]);
    out.push(
      [`${p}self_attn.o_proj.weight`, [q, C]],
      [`${p}post_attention_layernorm.weight`, [C]],
      [`${p}mlp.gate_proj.weight`, [C, I]],
      [`${p}mlp.up_proj.weight`, [C, I]],
      [`${p}mlp.down_proj.weight`, [I, C]],
    );
  }
  out.push(["model.norm.weight", [C]]);
  if (!c.tieWordEmbeddings) out.push(["lm_head.weight", [c.vocabSize, C]]);
  return out;
}

/** The HF (on-disk) shape of a parameter from its internal shape. */
export function hfShape(name: string, internal: number[]): number[] {
  return isTransposedLinear(name) ? [internal[1], internal[0]] : internal;
}

function normals(n: number, std: number, rand: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u1 = Math.max(rand(), 1e-12);
    out[i] = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * rand()) * std;
  }
  return out;
}

export class LlamaModel extends ParamStore {
  readonly arch = "llama" as const;
  readonly config: LlamaConfig;

  private constructor(config: LlamaConfig) {
    super();
    this.config = { ...config };
  }

  protected paramShapeList(): [string, number[]][] {
    return llamaParamShapes(this.config);
  }

  protected get label(): string {
    return `${this.config.modelType} model`;
  }

  /** Random init (N(0, std) weights, unit norms, zero biases): for tests and benchmarks. */
  static create(config: LlamaConfig, seed: number, std = 0.02): LlamaModel {
    const m = new LlamaModel(config);
    const rand = makeRng(seed);
    for (const [name, shape] of llamaParamShapes(config)) {
      const n = shape.reduce((a, b) => a * b, 1);
      const v = name.endsWith("norm.weight")
        ? new Float32Array(n).fill(1)
        : shape.length === 1
          ? new Float32Array(n)
          : normals(n, std, rand);
      m.params.set(name, tf.tensor(v, shape, "float32"));
    }
    return m;
  }

  /** Builds a model from complete parameter values in internal layout (checked for names and shapes). */
  static fromParams(config: LlamaConfig, values: Map<string, tf.Tensor | Float32Array>): LlamaModel {
    const m = new LlamaModel(config);
    try {
      for (const [name, shape] of llamaParamShapes(config)) {
        const v = values.get(name);
        if (!v) throw new Error(`missing parameter ${name}`);
        m.params.set(name, toTensor(name, v, shape));
      }
    } catch (e) {
      m.dispose();
      throw e;
    }
    return m;
  }

  clone(): LlamaModel {
    this.assertLive();
    const m = new LlamaModel(this.config);
    for (const [k, v] of this.params) m.params.set(k, v.clone());
    return m;
  }

  /** The (V, C) matrix the logits are read from: the embedding when tied. */
  get headName(): string {
    return this.config.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight";
  }
}
