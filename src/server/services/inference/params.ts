// Request bodies of /v1/chat/completions and /v1/completions, validated with OpenAI's names and
// ranges. Unknown arguments are refused (as OpenAI does) rather than silently ignored, and so
// are known ones this server cannot honour (penalties, tools…).
import { z } from "zod";
import type { ChatMessage } from "./messages.ts";
import { badRequest } from "./openai-errors.ts";

/** Sampling the /v1 endpoints share; names are the sampler's. */
export interface ApiSampling {
  model: string;
  n: number;
  temperature: number;
  topP: number;
  maxTokens: number;
  stop: string[];
  seed: number | null;
  stream: boolean;
  includeUsage: boolean;
  /** per-token log-probs with this many alternatives per token; null when not asked for */
  logprobs: { top: number } | null;
}

export const MAX_N = 8;
export const DEFAULT_MAX_TOKENS = 128;
/** OpenAI's bounds: chat `top_logprobs` 0–20, legacy completions `logprobs` 0–5 */
export const MAX_TOP_LOGPROBS = 20;
export const MAX_COMPLETION_LOGPROBS = 5;
const MAX_TOKENS_CAP = 4096;

const stop = z
  .union([
    z.string().min(1, "stop strings must not be empty"),
    z.array(z.string().min(1, "stop strings must not be empty")).max(4, "at most 4 stop sequences"),
  ])
  .nullish();

const common = {
  model: z.string({ message: "model is required (GET /v1/models lists them)" }).min(1, "model is required (GET /v1/models lists them)"),
  n: z.number().int("n must be an integer").min(1, "n must be ≥ 1").max(MAX_N, `n must be ≤ ${MAX_N}`).nullish(),
  temperature: z.number().min(0, "temperature must be between 0 and 2").max(2, "temperature must be between 0 and 2").nullish(),
  top_p: z.number().gt(0, "top_p must be in (0, 1]").max(1, "top_p must be in (0, 1]").nullish(),
  max_tokens: z
    .number()
    .int("max_tokens must be an integer")
    .min(1, "max_tokens must be ≥ 1")
    .max(MAX_TOKENS_CAP, `max_tokens must be ≤ ${MAX_TOKENS_CAP}`)
    .nullish(),
  stop,
  seed: z.number().int("seed must be an integer").min(0, "seed must be ≥ 0").max(2147483647, "seed must be ≤ 2147483647").nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).strict().nullish(),
  user: z.string().max(256).nullish(),
  // accepted at their neutral values only: anything else would be silently ignored
  presence_penalty: z.literal(0, { message: "presence_penalty is not supported (only 0)" }).nullish(),
  frequency_penalty: z.literal(0, { message: "frequency_penalty is not supported (only 0)" }).nullish(),
};

const text = z.string({ message: "content must be a string or an array of text parts" });
const contentPart = z.object({ type: z.literal("text", { message: "only text content parts are supported" }), text }).strict();
const message = z
  .object({
    role: z.enum(["system", "developer", "user", "assistant"], {
      message: "role must be system, developer, user or assistant (tools are not supported)",
    }),
    content: z.union([text, z.array(contentPart).min(1)]),
    name: z.string().optional(),
  })
  .strict();

const chatSchema = z
  .object({
    ...common,
    messages: z.array(message, { message: "messages must be an array of {role, content}" }).min(1, "messages must not be empty"),
    max_completion_tokens: common.max_tokens,
    logprobs: z.boolean({ message: "logprobs must be true or false" }).nullish(),
    top_logprobs: z
      .number()
      .int("top_logprobs must be an integer")
      .min(0, "top_logprobs must be ≥ 0")
      .max(MAX_TOP_LOGPROBS, `top_logprobs must be ≤ ${MAX_TOP_LOGPROBS}`)
      .nullish(),
  })
  .strict();

const completionSchema = z
  .object({
    ...common,
    prompt: z.union([z.string(), z.array(z.string()).length(1, "send one prompt per request")], { message: "prompt must be a string" }),
    logprobs: z
      .number({ message: `logprobs must be an integer from 0 to ${MAX_COMPLETION_LOGPROBS}` })
      .int("logprobs must be an integer")
      .min(0, "logprobs must be ≥ 0")
      .max(MAX_COMPLETION_LOGPROBS, `logprobs must be ≤ ${MAX_COMPLETION_LOGPROBS}`)
      .nullish(),
    echo: z.literal(false, { message: "echo is not supported" }).nullish(),
    best_of: z.literal(1, { message: "best_of is not supported (only 1)" }).nullish(),
    suffix: z.null({ message: "suffix is not supported" }).optional(),
  })
  .strict();

/** The body as JSON, or a 400 that says what is wrong with it. */
export async function readJsonBody(req: Request): Promise<unknown> {
  const type = req.headers.get("content-type") ?? "";
  if (!/^application\/json\b/i.test(type))
    throw badRequest("Send the request body as JSON with `Content-Type: application/json`.", null, null);
  const raw = await req.text();
  try {
    return JSON.parse(raw);
  } catch {
    throw badRequest("The request body is not valid JSON.", null, null);
  }
}

function parseWith<T>(schema: z.ZodType<T>, body: unknown): T {
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw badRequest("The request body must be a JSON object.", null, null);
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const param = issue.path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join("") || null;
  if (issue.code === "unrecognized_keys") {
    const keys = (issue as { keys?: string[] }).keys ?? [];
    const where = param ? `${param}.` : "";
    throw badRequest(
      `Unrecognized request argument supplied: ${keys.map((k) => where + k).join(", ")}`,
      keys.length === 1 ? where + keys[0] : param,
      "unrecognized_argument",
    );
  }
  const missing = issue.code === "invalid_type" && (issue as { input?: unknown }).input === undefined;
  throw badRequest(
    missing ? `Missing required parameter: '${param}'. ${issue.message}` : `Invalid '${param ?? "body"}': ${issue.message}`,
    param,
    missing ? "missing_required_parameter" : "invalid_value",
  );
}

function sampling(
  b: z.infer<typeof chatSchema> | z.infer<typeof completionSchema>,
  maxTokens: number | null | undefined,
  logprobs: { top: number } | null,
): ApiSampling {
  return {
    model: b.model,
    n: b.n ?? 1,
    temperature: b.temperature ?? 1,
    topP: b.top_p ?? 1,
    maxTokens: maxTokens ?? DEFAULT_MAX_TOKENS,
    stop: b.stop == null ? [] : typeof b.stop === "string" ? [b.stop] : b.stop,
    seed: b.seed ?? null,
    stream: b.stream ?? false,
    includeUsage: b.stream_options?.include_usage ?? false,
    logprobs,
  };
}

export function parseChatRequest(body: unknown): { sampling: ApiSampling; messages: ChatMessage[] } {
  const b = parseWith(chatSchema, body);
  if (b.stream_options && !b.stream) throw badRequest("stream_options is only allowed when stream is true.", "stream_options");
  const messages = b.messages.map((m) => ({
    role: m.role,
    content: typeof m.content === "string" ? m.content : m.content.map((p) => p.text).join(""),
  }));
  if (b.top_logprobs != null && !b.logprobs)
    throw badRequest("top_logprobs is only allowed when logprobs is true.", "top_logprobs", "invalid_value");
  const logprobs = b.logprobs ? { top: b.top_logprobs ?? 0 } : null;
  return { sampling: sampling(b, b.max_completion_tokens ?? b.max_tokens, logprobs), messages };
}

export function parseCompletionRequest(body: unknown): { sampling: ApiSampling; prompt: string } {
  const b = parseWith(completionSchema, body);
  if (b.stream_options && !b.stream) throw badRequest("stream_options is only allowed when stream is true.", "stream_options");
  const logprobs = b.logprobs == null ? null : { top: b.logprobs };
  return { sampling: sampling(b, b.max_tokens, logprobs), prompt: typeof b.prompt === "string" ? b.prompt : b.prompt[0]! };
}
