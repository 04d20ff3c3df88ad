// The one place the import flow calls the language-model library: src/lm's own directory
// validator (config, tokenizer, every tensor's name, shape and dtype, the weights, and a
// one-token forward pass whose log-prob must be finite), so whatever src/lm loads is importable.
import { type BackendName, initBackend, validateModelDir } from "../../../lm/index.ts";

export interface LmValidation {
  parameterCount: number;
  vocabSize: number;
  contextLength: number;
  tokenizer: string;
  /** log p(EOS | rendered probe prompt): finite, or the weights are broken */
  probeLogprob: number;
}

/** Validates `dir` with the lm library; throws an admin-readable Error on the first problem. */
export async function validateWithLm(dir: string, backend: BackendName | "auto" = "auto"): Promise<LmValidation> {
  await initBackend(backend);
  const info = await validateModelDir(dir);
  return {
    parameterCount: info.numParams,
    vocabSize: info.vocabSize,
    contextLength: info.contextLength,
    tokenizer: info.tokenizer,
    probeLogprob: info.probeLogprob,
  };
}
