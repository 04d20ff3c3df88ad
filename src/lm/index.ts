export { type BackendName, initBackend, useBackend } from "./backend.ts";
export { type BatcherStats, SampleBatcher, type SampleBatcherOptions } from "./batch.ts";
export type { CausalLM, ModelConfig } from "./causal.ts";
export {
  HOUSE_MODEL_DIR,
  type LoadOptions,
  loadCheckpoint,
  loadTokenizer,
  parseSafetensors,
  saveCheckpoint,
  serializeSafetensors,
} from "./checkpoint.ts";
export {
  forwardWithGrad,
  type LossFn,
  logprobGrads,
  nextTokenLogprobs,
  type PendingGrads,
  type ScoreItem,
  scoreCompletions,
} from "./forward.ts";
export { loadHFTokenizer } from "./hf-tokenizer.ts";
export { hashModelDir } from "./llama/checkpoint.ts";
export { DEFAULT_CONTEXT_LIMIT, type LlamaConfig, type LlamaModelType, llamaConfigFromHF, UnsupportedModelError } from "./llama/config.ts";
export { LlamaModel } from "./llama/model.ts";
export { GPT, type GPTConfig, makeRng, paramShapes, validateConfig } from "./model.ts";
export { type Nucleus, nucleus } from "./nucleus.ts";
export { AdamW, type AdamWOptions, clipGradNorm, disposeGrads } from "./optim.ts";
export { GradWorkerPool } from "./parallel.ts";
export { pickToken, topLogprobs } from "./pick.ts";
export { type SampledCompletion, type SampleOptions, sample } from "./sample.ts";
export {
  BYTE_BOS,
  BYTE_EOS,
  BYTE_PAD,
  BYTE_VOCAB_SIZE,
  byteTokenizer,
  encodeChat,
  encodePrompt,
  gpt2Tokenizer,
  type Tokenizer,
  tokenizerByName,
  tokenPiece,
} from "./tokenizer.ts";
export { type ModelDirInfo, validateModelDir } from "./validate.ts";
