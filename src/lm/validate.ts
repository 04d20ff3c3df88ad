// Checks a model directory before anything depends on it (the import flow, HOUSE_MODEL_DIR):
// the same checks loadCheckpoint makes, then one forward pass, so a directory that validates
// can be served, scored and trained.

import { readFile } from "node:fs/promises";
import path from "node:path";
import { type LoadOptions, loadCheckpoint } from "./checkpoint.ts";
import { scoreCompletions } from "./forward.ts";
import { encodePrompt } from "./tokenizer.ts";

export interface ModelDirInfo {
  /** config.json model_type ("gpt2" for the house model's format). */
  modelType: string;
  numParams: number;
  vocabSize: number;
  /** Context the model is used with (max_position_embeddings capped by the load limit). */
  contextLength: number;
  nLayer: number;
  hiddenSize: number;
  tokenizer: "byte" | "gpt2" | "hf";
  hasChatTemplate: boolean;
  stopIds: number[];
  /** Same definition as loadCheckpoint's sha256. */
  sha256: string;
  /** log p(EOS | rendered "Hello") from the test forward pass: finite when the weights are sane. */
  probeLogprob: number;
}

/**
 * Validates a directory fully: config.json (supported architecture and options, named when
 * not), tokenizer files, every tensor's presence, shape and dtype, the weights themselves, and a
 * one-token forward pass whose log-prob must be finite. Throws an Error with a message fit for
 * an admin on the first problem; loads the model once and releases it before returning.
 */
export async function validateModelDir(dir: string, opts: LoadOptions = {}): Promise<ModelDirInfo> {
  const { model, tokenizer, sha256 } = await loadCheckpoint(dir, opts);
  try {
    const promptIds = encodePrompt(tokenizer, "Hello");
    if (promptIds.length >= model.config.nPositions)
      throw new Error(`${dir}: a one-word prompt already fills the model's context of ${model.config.nPositions}`);
    const { sum } = scoreCompletions(model, [{ promptIds, completionIds: [tokenizer.eos] }]);
    if (!Number.isFinite(sum[0]))
      throw new Error(`${dir}: the test forward pass gave a non-finite log-prob (${sum[0]}): the weights are corrupt or overflow float32`);
    const raw = JSON.parse(await readFile(path.join(dir, "config.json"), "utf8")) as { model_type?: string };
    return {
      modelType: raw.model_type ?? "gpt2",
      numParams: model.numParams(),
      vocabSize: model.config.vocabSize,
      contextLength: model.config.nPositions,
      nLayer: model.config.nLayer,
      hiddenSize: model.config.nEmbd,
      tokenizer: tokenizer.name,
      hasChatTemplate: tokenizer.chatPrompt !== undefined,
      stopIds: tokenizer.stopIds ?? [tokenizer.eos],
      sha256,
      probeLogprob: sum[0],
    };
  } finally {
    model.dispose();
  }
}
