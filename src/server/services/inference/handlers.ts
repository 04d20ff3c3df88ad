// The HTTP side of the OpenAI-compatible API (src/app/v1/**), kept out of the route files so
// tests serve the real handlers with their own database and sampler.
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { internalErrorMessage, newErrorId } from "../../errors.ts";
import { log } from "../../log.ts";
import type { TokenEvent } from "../../sampler/index.ts";
import { type AuthenticatedKey, checkApiKey } from "../api-keys/authenticate.ts";
import type { ApiKeyScope } from "../api-keys/keys.ts";
import { AdmissionGate, readApiLimits } from "./admission.ts";
import { type ApiResult, type InferenceSampler, newResponseId, runApiCompletion } from "./generate.ts";
import { chatLogprobs, completionLogprobs } from "./logprobs.ts";
import { promptForMessages } from "./messages.ts";
import { listApiModels, resolveApiModel } from "./models.ts";
import { badRequest, keyCheckError, OpenAiError } from "./openai-errors.ts";
import { type ApiSampling, parseChatRequest, parseCompletionRequest, readJsonBody } from "./params.ts";
import { preferenceSchema, recordApiPreference } from "./preferences.ts";
import { DeltaTracker } from "./stream-text.ts";

export interface V1Deps {
  db: PrismaClient | (() => PrismaClient);
  sampler: () => Promise<InferenceSampler>;
  gate?: AdmissionGate;
}

type Handler = (req: Request) => Promise<Response>;

const NO_STORE = { "cache-control": "no-store" };

export function createV1Handlers(deps: V1Deps): { models: Handler; chatCompletions: Handler; completions: Handler; preferences: Handler } {
  const getDb = () => (typeof deps.db === "function" ? deps.db() : deps.db);
  let gate = deps.gate;
  const getGate = () => (gate ??= new AdmissionGate(readApiLimits()));

  /** Authenticates, runs `body`, and turns every failure into OpenAI's error shape. */
  const endpoint =
    (scope: ApiKeyScope, body: (req: Request, key: AuthenticatedKey, db: PrismaClient) => Promise<Response>): Handler =>
    async (req) => {
      try {
        const db = getDb();
        const check = await checkApiKey({ db, authorization: req.headers.get("authorization"), scope });
        if (!check.ok) throw keyCheckError(check);
        return await body(req, check.key, db);
      } catch (err) {
        return errorResponse(err);
      }
    };

  async function complete(req: Request, key: AuthenticatedKey, db: PrismaClient, kind: "chat" | "completions"): Promise<Response> {
    const json = await readJsonBody(req);
    const parsed = kind === "chat" ? parseChatRequest(json) : parseCompletionRequest(json);
    const promptText = "messages" in parsed ? promptForMessages(parsed.messages) : parsed.prompt;
    const versionId = await resolveApiModel(db, parsed.sampling.model);
    const id = newResponseId(kind === "chat" ? "chatcmpl" : "cmpl");
    const abort = new AbortController();
    req.signal?.addEventListener("abort", () => abort.abort(), { once: true });
    // Admitted (or refused with 503) before any answer starts, so errors keep their status.
    const release = await getGate().enter(abort.signal);
    let sampler: InferenceSampler;
    try {
      sampler = await deps.sampler();
    } catch (err) {
      release();
      log.error("api: sampler failed to start", { err });
      throw new OpenAiError(503, "The model server is not available yet; try again shortly.", "server_error", null, "model_not_loaded", {
        "retry-after": "5",
      });
    }
    const runWith = (onToken?: (e: TokenEvent) => void) =>
      runApiCompletion({
        db,
        sampler,
        release,
        apiKeyId: key.id,
        endpoint: kind,
        id,
        promptText,
        messages: "messages" in parsed ? parsed.messages : undefined,
        versionId,
        sampling: parsed.sampling,
        onToken,
        signal: abort.signal,
      });
    if (!parsed.sampling.stream) {
      const result = await runWith();
      return Response.json(kind === "chat" ? chatBody(result) : completionBody(result, promptText), { headers: NO_STORE });
    }
    return sseResponse(kind, id, parsed.sampling, runWith, abort, promptText);
  }

  return {
    models: endpoint("inference", async (_req, _key, db) =>
      Response.json({ object: "list", data: await listApiModels(db) }, { headers: NO_STORE }),
    ),
    chatCompletions: endpoint("inference", (req, key, db) => complete(req, key, db, "chat")),
    completions: endpoint("inference", (req, key, db) => complete(req, key, db, "completions")),
    preferences: endpoint("vote", async (req, key, db) => {
      const body = await readJsonBody(req);
      const parsed = preferenceSchema.safeParse(body);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        const param = issue.path.join(".") || null;
        throw badRequest(
          issue.code === "unrecognized_keys"
            ? `Unrecognized request argument supplied: ${(issue as { keys?: string[] }).keys?.join(", ")}`
            : `Invalid '${param ?? "body"}': ${issue.message}`,
          param,
        );
      }
      const { created, record } = await recordApiPreference({
        db,
        apiKeyId: key.id,
        completionA: parsed.data.completion_a,
        completionB: parsed.data.completion_b,
        choice: parsed.data.choice,
      });
      return Response.json(record, { status: created ? 201 : 200, headers: NO_STORE });
    }),
  };
}

function chatBody(r: ApiResult) {
  return {
    id: r.id,
    object: "chat.completion",
    created: r.created,
    model: r.model,
    choices: r.choices.map((c) => ({
      index: c.index,
      message: { role: "assistant", content: c.text },
      logprobs: chatLogprobs(c),
      finish_reason: c.finishReason,
      completion_id: c.completionId,
    })),
    usage: r.usage,
  };
}

function completionBody(r: ApiResult, promptText: string) {
  return {
    id: r.id,
    object: "text_completion",
    created: r.created,
    model: r.model,
    choices: r.choices.map((c) => ({
      index: c.index,
      text: c.text,
      logprobs: completionLogprobs(c, promptText),
      finish_reason: c.finishReason,
      completion_id: c.completionId,
    })),
    usage: r.usage,
  };
}

/**
 * Server-sent events as OpenAI streams them: one `data: <chunk>` per event, text as appended
 * deltas, each choice's last chunk with its finish_reason (and its completion_id), the usage
 * chunk when asked for, then `data: [DONE]`. An error after the stream began is sent as a
 * `data: {"error": …}` event, since the status line is already out. Per-token log-probs, when asked
 * for, come whole in each choice's last chunk (clients append chunks' logprobs, so the sum is the
 * same as in a non-streamed answer).
 */
function sseResponse(
  kind: "chat" | "completions",
  id: string,
  s: ApiSampling,
  run: (onToken: (e: TokenEvent) => void) => Promise<ApiResult>,
  abort: AbortController,
  promptText: string,
): Response {
  const encoder = new TextEncoder();
  const created = Math.floor(Date.now() / 1000);
  const object = kind === "chat" ? "chat.completion.chunk" : "text_completion";
  let model = s.model;
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      const send = (data: unknown) => {
        if (!abort.signal.aborted)
          controller.enqueue(encoder.encode(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`));
      };
      const choice = (index: number, text: string, finish: string | null, extra: Record<string, unknown> = {}) =>
        kind === "chat"
          ? {
              index,
              delta:
                text === "" && finish === null
                  ? { role: "assistant", content: "" }
                  : finish === null
                    ? { content: text }
                    : text
                      ? { content: text }
                      : {},
              logprobs: null,
              finish_reason: finish,
              ...extra,
            }
          : { index, text, logprobs: null, finish_reason: finish, ...extra };
      const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => ({ id, object, created, model, choices, ...extra });
      if (kind === "chat") for (let i = 0; i < s.n; i++) send(chunk([choice(i, "", null)]));
      const deltas = new DeltaTracker(s.stop);
      try {
        const result = await run((e) => {
          const text = deltas.update(e);
          if (text) send(chunk([choice(e.index, text, null)]));
        });
        model = result.model;
        for (const c of result.choices) {
          const extra = {
            completion_id: c.completionId,
            ...(c.tokenLogprobs ? { logprobs: kind === "chat" ? chatLogprobs(c) : completionLogprobs(c, promptText) } : {}),
          };
          send(chunk([choice(c.index, deltas.finish(c.index, c.text), c.finishReason, extra)]));
        }
        if (s.includeUsage) send(chunk([], { usage: result.usage }));
        send("[DONE]");
      } catch (err) {
        if (!abort.signal.aborted) send(errorBody(err));
      } finally {
        if (!abort.signal.aborted) controller.close();
      }
    },
    cancel() {
      abort.abort();
    },
  });
  return new Response(stream, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    },
  });
}

function errorBody(err: unknown): { error: object } {
  if (err instanceof OpenAiError) return err.body;
  const errorId = newErrorId();
  log.error("api: request failed", { errorId, err });
  return { error: { message: internalErrorMessage(errorId), type: "server_error", param: null, code: null } };
}

function errorResponse(err: unknown): Response {
  if (err instanceof OpenAiError) return err.toResponse();
  return Response.json(errorBody(err), { status: 500, headers: NO_STORE });
}
