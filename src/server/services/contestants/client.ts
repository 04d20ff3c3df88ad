// Streams one answer from an OpenAI-compatible endpoint (llama.cpp, vLLM, Ollama, another
// dpo-arena): POST <baseUrl>/chat/completions (or /completions) with `stream: true`, reading
// `data:` events until `[DONE]`. Every failure is a ContestantError with a message for the
// admin's status column (never a stack, never the key).

export class ContestantError extends Error {
  override name = "ContestantError";
}

export interface ContestantEndpoint {
  baseUrl: string;
  model: string;
  api: "chat" | "completions";
  apiKey: string | null;
}

export interface StreamRequest {
  prompt: string;
  maxTokens: number;
  temperature: number;
  topP: number;
  seed: number;
  signal: AbortSignal;
  /** the answer's next piece of text; return true to stop reading (the end is known) */
  onDelta: (text: string) => boolean;
  /** no first byte of the answer within this long, or a pause this long mid-answer: it failed */
  firstByteTimeoutMs: number;
}

export interface StreamOutcome {
  /** the endpoint's finish_reason ("stop", "length"), or null when we stopped reading first */
  finishReason: "stop" | "length" | null;
}

function endpointUrl(baseUrl: string, path: string): string {
  return `${baseUrl.replace(/\/+$/, "")}${path}`;
}

function headersFor(e: ContestantEndpoint): Record<string, string> {
  const h: Record<string, string> = { "content-type": "application/json", accept: "text/event-stream" };
  if (e.apiKey) h.authorization = `Bearer ${e.apiKey}`;
  return h;
}

/** A short, single-line description of a fetch failure (undici hides the reason in `cause`). */
export function describeFailure(err: unknown): string {
  if (err instanceof ContestantError) return err.message;
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === "TimeoutError") return "timed out";
  const cause = e?.cause?.code ?? e?.cause?.message;
  return (cause ? `${e?.message ?? "request failed"} (${cause})` : (e?.message ?? String(err))).slice(0, 300);
}

async function errorText(res: Response): Promise<string> {
  const body = await res.text().catch(() => "");
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown } | string };
    const msg = typeof parsed.error === "string" ? parsed.error : parsed.error?.message;
    if (typeof msg === "string") return msg.slice(0, 200);
  } catch {
    // not JSON: show the start of the body
  }
  return body.slice(0, 200);
}

export async function streamAnswer(endpoint: ContestantEndpoint, req: StreamRequest): Promise<StreamOutcome> {
  const chat = endpoint.api === "chat";
  const body = {
    model: endpoint.model,
    ...(chat ? { messages: [{ role: "user", content: req.prompt }] } : { prompt: req.prompt }),
    stream: true,
    max_tokens: req.maxTokens,
    temperature: req.temperature,
    top_p: req.topP,
    seed: req.seed,
  };
  // A watchdog covers connecting and the endpoint's queue (no first byte in time) and a stream
  // that stalls; the battle's own signal (skip, lease, abandoned) stops it otherwise.
  const firstByte = new AbortController();
  const seconds = req.firstByteTimeoutMs / 1000;
  let timer = setTimeout(() => firstByte.abort(new ContestantError(`no answer within ${seconds} s`)), req.firstByteTimeoutMs);
  const rearm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => firstByte.abort(new ContestantError(`the answer stalled (nothing for ${seconds} s)`)), req.firstByteTimeoutMs);
  };
  const signal = AbortSignal.any([req.signal, firstByte.signal]);
  let res: Response;
  try {
    res = await fetch(endpointUrl(endpoint.baseUrl, chat ? "/chat/completions" : "/completions"), {
      method: "POST",
      headers: headersFor(endpoint),
      body: JSON.stringify(body),
      signal,
    });
  } catch (err) {
    clearTimeout(timer);
    if (req.signal.aborted) throw req.signal.reason;
    if (firstByte.signal.aborted) throw firstByte.signal.reason;
    throw new ContestantError(`cannot reach ${endpoint.baseUrl}: ${describeFailure(err)}`);
  }
  if (!res.ok) {
    clearTimeout(timer);
    throw new ContestantError(`${endpoint.baseUrl} answered HTTP ${res.status}: ${await errorText(res)}`);
  }
  if (!res.body) {
    clearTimeout(timer);
    throw new ContestantError(`${endpoint.baseUrl} answered without a body`);
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let finishReason: StreamOutcome["finishReason"] = null;
  let sawData = false;
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (err) {
        if (req.signal.aborted) throw req.signal.reason;
        if (firstByte.signal.aborted) throw firstByte.signal.reason;
        throw new ContestantError(`the stream from ${endpoint.baseUrl} broke off: ${describeFailure(err)}`);
      }
      if (chunk.done) break;
      if (sawData) rearm();
      buffer += decoder.decode(chunk.value, { stream: true });
      for (let cut = buffer.search(/\r?\n\r?\n/); cut >= 0; cut = buffer.search(/\r?\n\r?\n/)) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, "");
        const data = block
          .split(/\r?\n/)
          .filter((l) => l.startsWith("data:"))
          .map((l) => l.slice(5).replace(/^ /, ""))
          .join("\n");
        if (!data) continue;
        if (data === "[DONE]") return { finishReason };
        let event: { choices?: { delta?: { content?: unknown }; text?: unknown; finish_reason?: unknown }[]; error?: unknown };
        try {
          event = JSON.parse(data);
        } catch {
          throw new ContestantError(`${endpoint.baseUrl} sent an event that is not JSON`);
        }
        if (event.error)
          throw new ContestantError(`${endpoint.baseUrl} reported an error mid-stream: ${JSON.stringify(event.error).slice(0, 200)}`);
        if (!sawData) {
          sawData = true;
          rearm();
        }
        const choice = event.choices?.[0];
        if (!choice) continue;
        const text = chat ? choice.delta?.content : choice.text;
        if (typeof text === "string" && text.length > 0 && req.onDelta(text)) return { finishReason: null };
        if (choice.finish_reason === "stop" || choice.finish_reason === "length") finishReason = choice.finish_reason;
        else if (typeof choice.finish_reason === "string") finishReason = "stop";
      }
    }
    if (!sawData) throw new ContestantError(`${endpoint.baseUrl} ended the stream without an answer`);
    return { finishReason };
  } finally {
    clearTimeout(timer);
    // Stop the endpoint's work once we know the end (or on any failure).
    void reader.cancel().catch(() => {});
  }
}

/** GET <baseUrl>/models: the admin's "check now" (a cheap call every OpenAI-compatible server has). */
export async function probeEndpoint(endpoint: ContestantEndpoint, timeoutMs: number): Promise<void> {
  let res: Response;
  try {
    res = await fetch(endpointUrl(endpoint.baseUrl, "/models"), { headers: headersFor(endpoint), signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new ContestantError(`cannot reach ${endpoint.baseUrl}: ${describeFailure(err)}`);
  }
  if (!res.ok) throw new ContestantError(`${endpoint.baseUrl}/models answered HTTP ${res.status}: ${await errorText(res)}`);
  const body = (await res.json().catch(() => null)) as { data?: { id?: unknown }[] } | null;
  const ids = (body?.data ?? []).map((m) => m.id).filter((id): id is string => typeof id === "string");
  if (ids.length > 0 && !ids.includes(endpoint.model))
    throw new ContestantError(`${endpoint.baseUrl} does not list the model "${endpoint.model}" (it has ${ids.slice(0, 5).join(", ")})`);
}
