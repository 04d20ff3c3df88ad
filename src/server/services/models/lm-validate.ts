// The one place the import flow calls the language-model library. Everything the lm library
// accepts (today GPT-2 directories; Llama-family ones once their loader lands) is importable;
// when src/lm exports its own directory validator, it replaces the body of this function.
import { encodePrompt, initBackend, loadCheckpoint, scoreCompletions, type BackendName } from "../../../lm/index.ts";

export interface LmValidation {
  parameterCount: number;
  vocabSize: number;
  contextLength: number;
  tokenizer: string;
  /** log p(first token of the probe completion | probe prompt): finite, or the weights are broken */
  probeLogprob: number;
}

const PROBE_PROMPT = "Hello";

/** Loads `dir` (config, every tensor's name, shape and dtype, tokenizer) and runs a one-token forward pass. */
export async function validateWithLm(dir: string, backend: BackendName | "auto" = "auto"): Promise<LmValidation> {
  await initBackend(backend);
  const { model, tokenizer } = await loadCheckpoint(dir);
  try {
    const promptIds = encodePrompt(tokenizer, PROBE_PROMPT);
    const text = tokenizer.decode(tokenizer.encode(PROBE_PROMPT));
    if (text !== PROBE_PROMPT) throw new Error(`tokenizer does not round-trip: "${PROBE_PROMPT}" decodes back as "${text}"`);
    const { sum } = scoreCompletions(model, [{ promptIds, completionIds: [tokenizer.eos] }]);
    const probeLogprob = sum[0]!;
    if (!Number.isFinite(probeLogprob)) throw new Error(`a one-token forward pass gave log-prob ${probeLogprob}: the weights contain NaN or Inf`);
    return {
      parameterCount: model.numParams(),
      vocabSize: model.config.vocabSize,
      contextLength: model.config.nPositions,
      tokenizer: tokenizer.name,
      probeLogprob,
    };
  } finally {
    model.dispose();
  }
}
