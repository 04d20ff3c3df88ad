// One /v1 request on the shared sampler: admission, sampling at background priority, and the
// stored ApiCompletion rows (one per choice) that later preferences refer to.
import { randomBytes, randomInt } from "node:crypto";
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { log } from "../../log.ts";
import { type GenerateOptions, type GenerateResult, SamplerUnavailableError, type TokenEvent } from "../../sampler/index.ts";
import type { TokenLogprob } from "../../sampler/protocol.ts";
import { OpenAiError } from "./openai-errors.ts";
import type { ApiSampling } from "./params.ts";

/** What the API needs from the sampler (src/server/sampler). */
export interface InferenceSampler {
  generate(opts: GenerateOptions): Promise<GenerateResult>;
}

export interface ApiChoice {
  index: number;
  completionId: string;
  text: string;
  finishReason: "stop" | "length";
  promptTokens: number;
  completionTokens: number;
  /** when the request asked for logprobs: one per completion token */
  tokenLogprobs?: TokenLogprob[];
}

export interface ApiResult {
  id: string;
  created: number;
  model: string;
  choices: ApiChoice[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

export function newResponseId(prefix: "chatcmpl" | "cmpl"): string {
  return `${prefix}-${randomBytes(12).toString("base64url")}`;
}

/** OpenAI has "stop" (EOS or a stop string) and "length"; the sampler says which in more detail. */
function finishReason(r: string): "stop" | "length" {
  return r === "eos" || r === "stop" ? "stop" : "length";
}

export async function runApiCompletion(opts: {
  db: PrismaClient;
  sampler: InferenceSampler;
  /** from AdmissionGate.enter: the request was admitted; called once sampling ends */
  release: () => void;
  apiKeyId: string;
  endpoint: "chat" | "completions";
  id: string;
  promptText: string;
  /** a chat request's messages: the sampler renders them with the model's chat template when it has one */
  messages: { role: string; content: string }[] | undefined;
  versionId: number | undefined;
  sampling: ApiSampling;
  onToken?: (e: TokenEvent) => void;
  signal?: AbortSignal;
}): Promise<ApiResult> {
  const { db, sampling: s } = opts;
  const seed = s.seed ?? randomInt(2147483647);
  let result: GenerateResult;
  try {
    result = await opts.sampler.generate({
      promptText: opts.promptText,
      messages: opts.messages,
      n: s.n,
      temperature: s.temperature,
      topK: 0,
      topP: s.topP,
      maxNewTokens: s.maxTokens,
      // max_tokens is a hard limit in the OpenAI API: no looking past it for a word boundary
      exactLength: true,
      seed,
      stopStrings: s.stop.length ? s.stop : undefined,
      logprobs: s.logprobs ?? undefined,
      versionId: opts.versionId,
      onToken: opts.onToken,
      signal: opts.signal,
      priority: "background",
    });
  } catch (err) {
    throw samplerError(err, opts.endpoint === "chat" ? "messages" : "prompt");
  } finally {
    opts.release();
  }
  const created = Math.floor(Date.now() / 1000);
  const choices = result.completions.map((c, index) => ({
    index,
    completionId: `${opts.id}.${index}`,
    text: c.text,
    finishReason: finishReason(c.finishReason),
    promptTokens: c.promptTokenIds.length,
    completionTokens: c.tokenIds.length,
    tokenLogprobs: c.tokenLogprobs,
  }));
  // Stored before the answer is sent, so an id a client sees can come back as a preference.
  await db.apiCompletion.createMany({
    data: result.completions.map((c, index) => ({
      id: choices[index]!.completionId,
      apiKeyId: opts.apiKeyId,
      endpoint: opts.endpoint,
      policyVersionId: result.versionId,
      messages: opts.messages === undefined ? undefined : (opts.messages as object),
      promptText: c.renderedPrompt ?? opts.promptText,
      promptTokenIds: c.promptTokenIds,
      tokenIds: c.tokenIds,
      text: c.text,
      logprob: Number.isFinite(c.logprob) ? c.logprob : null,
      temperature: s.temperature,
      topP: s.topP,
      maxNewTokens: s.maxTokens,
      seed,
      finishReason: c.finishReason,
      latencyMs: c.latencyMs,
    })),
  });
  const promptTokens = choices[0]?.promptTokens ?? 0;
  const completionTokens = choices.reduce((sum, c) => sum + c.completionTokens, 0);
  return {
    id: opts.id,
    created,
    model: result.versionName,
    choices,
    usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
  };
}

function samplerError(err: unknown, promptParam: string): unknown {
  if (err instanceof OpenAiError) return err;
  if (err instanceof SamplerUnavailableError)
    return new OpenAiError(503, "No model is loaded yet on this server; try again shortly.", "server_error", null, "model_not_loaded", {
      "retry-after": "5",
    });
  const message = (err as Error)?.message ?? "";
  // The sampler thread refuses prompts longer than the model's context with a message that says so.
  if (/needs a shorter prompt/.test(message))
    return new OpenAiError(
      400,
      `This model's context is too small for the prompt: ${message}`,
      "invalid_request_error",
      promptParam,
      "context_length_exceeded",
    );
  log.warn("api: sampling failed", { err: message });
  return err;
}
