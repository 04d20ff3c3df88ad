export { initBackend, useBackend, type BackendName } from "./backend.ts";
export { byteTokenizer, gpt2Tokenizer, encodePrompt, tokenizerByName, type Tokenizer, BYTE_BOS, BYTE_EOS, BYTE_PAD, BYTE_VOCAB_SIZE } from "./tokenizer.ts";
export { GPT, makeRng, paramShapes, validateConfig, type GPTConfig } from "./model.ts";
export { scoreCompletions, nextTokenLogprobs, logprobGrads, forwardWithGrad, type ScoreItem, type LossFn, type PendingGrads } from "./forward.ts";
export { AdamW, clipGradNorm, disposeGrads, type AdamWOptions } from "./optim.ts";
export { saveCheckpoint, loadCheckpoint, HOUSE_MODEL_DIR, parseSafetensors, serializeSafetensors } from "./checkpoint.ts";
export { sample, pickToken, type SampleOptions, type SampledCompletion } from "./sample.ts";
export { SampleBatcher, type SampleBatcherOptions, type BatcherStats } from "./batch.ts";
export { GradWorkerPool } from "./parallel.ts";
