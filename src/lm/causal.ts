// The models this package serves, scores and trains: GPT-2 (the house model, imported GPT-2
// checkpoints) and the Llama family (llama, mistral, qwen2, qwen3). Code that only needs the
// common surface (config.vocabSize / nPositions, parameters by name, version) takes a CausalLM;
// `arch` tells the two apart where the maths differs.

import type { LlamaConfig } from "./llama/config.ts";
import type { LlamaModel } from "./llama/model.ts";
import { LlamaModel as LlamaModelClass } from "./llama/model.ts";
import type { GPT } from "./model.ts";
import { GPT as GPTClass, type GPTConfig } from "./model.ts";

export type CausalLM = GPT | LlamaModel;
export type ModelConfig = GPTConfig | LlamaConfig;

/** Rebuilds a model of either architecture from its config and complete parameters (grad workers). */
export function modelFromParams(config: ModelConfig, params: Map<string, Float32Array>): CausalLM {
  return "arch" in config && config.arch === "llama"
    ? LlamaModelClass.fromParams(config, params)
    : GPTClass.fromParams(config as GPTConfig, params);
}

/** Width of one position's keys (or values) in a KV cache. */
export function kvWidth(model: CausalLM): number {
  return model.arch === "llama" ? model.config.nKVHead * model.config.headDim : model.config.nEmbd;
}
