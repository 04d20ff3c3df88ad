// The OpenAI-compatible API over real HTTP, with the shipped house model on the real sampler:
// every endpoint streaming and not, the error contract, usage, stop, seed and preferences.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { byteTokenizer } from "../../src/lm/index.ts";
import { readSse, startV1World, type V1World } from "./world.ts";

let w: V1World;
let inference: string;

beforeAll(async () => {
  w = await startV1World();
  inference = await w.key(["inference"]);
}, 60_000);
afterAll(() => w?.close());

function post(path: string, body: unknown, key: string | null = inference) {
  return fetch(w.baseUrl + path, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

type Usage = { prompt_tokens: number; completion_tokens: number; total_tokens: number };
type Chat = {
  id: string;
  object: string;
  model: string;
  choices: { index: number; message: { role: string; content: string }; finish_reason: string; completion_id: string }[];
  usage: Usage;
};
type Text = {
  id: string;
  object: string;
  model: string;
  choices: { index: number; text: string; finish_reason: string; completion_id: string }[];
  usage: Usage;
};

describe("GET /v1/models", () => {
  it("lists the serving version and its alias", async () => {
    const res = await fetch(`${w.baseUrl}/v1/models`, { headers: { authorization: `Bearer ${inference}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { object: string; data: { id: string; object: string; owned_by: string }[] };
    expect(body.object).toBe("list");
    expect(body.data.map((m) => m.id)).toEqual(["policy", "v0"]);
    expect(body.data.every((m) => m.object === "model")).toBe(true);
  });
});

describe("POST /v1/chat/completions", () => {
  it("answers with the serving version, usage equal to the stored tokens", async () => {
    const res = await post("/v1/chat/completions", {
      model: "policy",
      messages: [{ role: "user", content: "The President" }],
      max_tokens: 12,
      n: 2,
      seed: 5,
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Chat;
    expect(body.object).toBe("chat.completion");
    expect(body.model).toBe("v0");
    expect(body.choices).toHaveLength(2);
    const stored = await w.db.apiCompletion.findMany({
      where: { id: { in: body.choices.map((c) => c.completion_id) } },
      orderBy: { id: "asc" },
    });
    expect(stored).toHaveLength(2);
    // the byte-level prompt: BOS + the UTF-8 bytes of the one user message, as in the arena
    expect(body.usage.prompt_tokens).toBe(1 + Buffer.byteLength("The President"));
    expect(stored[0]!.promptTokenIds).toHaveLength(body.usage.prompt_tokens);
    expect(body.usage.completion_tokens).toBe(stored[0]!.tokenIds.length + stored[1]!.tokenIds.length);
    expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens + body.usage.completion_tokens);
    for (const c of body.choices) {
      const row = stored.find((s) => s.id === c.completion_id)!;
      expect(row.text).toBe(c.message.content);
      expect(row.tokenIds.length).toBeLessThanOrEqual(12);
      // a completion that ran to max_tokens says "length" and produced exactly that many tokens
      if (c.finish_reason === "length") expect(row.tokenIds).toHaveLength(12);
    }
  });

  it("streams SSE chunks that add up to the stored text, ending with [DONE]", async () => {
    const res = await post("/v1/chat/completions", {
      model: "v0",
      messages: [{ role: "user", content: "The Congress shall" }],
      max_tokens: 24,
      stream: true,
      stream_options: { include_usage: true },
      seed: 11,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const { events, done } = await readSse(res);
    expect(done).toBe(true);
    type Chunk = {
      object: string;
      id: string;
      choices: { index: number; delta: { role?: string; content?: string }; finish_reason: string | null; completion_id?: string }[];
      usage?: Usage;
    };
    const chunks = events as Chunk[];
    expect(chunks.every((c) => c.object === "chat.completion.chunk")).toBe(true);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks[0]!.choices[0]!.delta.role).toBe("assistant");
    const content = chunks.flatMap((c) => c.choices.map((ch) => ch.delta.content ?? "")).join("");
    expect(chunks.filter((c) => c.choices.length && c.choices[0]!.delta.content).length).toBeGreaterThan(1); // really streamed
    const last = chunks.at(-2)!.choices[0]!;
    expect(last.finish_reason).not.toBeNull();
    const stored = await w.db.apiCompletion.findUniqueOrThrow({ where: { id: last.completion_id! } });
    expect(content).toBe(stored.text);
    const usage = chunks.at(-1)!.usage!;
    expect(chunks.at(-1)!.choices).toEqual([]);
    expect(usage.completion_tokens).toBe(stored.tokenIds.length);
  });

  it("renders a conversation as a plain transcript for a model without a chat template", async () => {
    const res = await post("/v1/chat/completions", {
      model: "policy",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Hi" },
      ],
      max_tokens: 2,
    });
    const body = (await res.json()) as Chat;
    const row = await w.db.apiCompletion.findUniqueOrThrow({ where: { id: body.choices[0]!.completion_id } });
    expect(row.promptText).toBe("System: Be brief.\n\nUser: Hi\n\nAssistant:");
    expect(row.messages).toEqual([
      { role: "system", content: "Be brief." },
      { role: "user", content: "Hi" },
    ]);
  });
});

describe("POST /v1/completions", () => {
  it("the same seed gives the same text, another seed another text", async () => {
    const ask = async (seed: number) =>
      (
        (await (
          await post("/v1/completions", { model: "policy", prompt: "The President", max_tokens: 40, seed, temperature: 1 })
        ).json()) as Text
      ).choices[0]!.text;
    const a = await ask(42);
    expect(await ask(42)).toBe(a);
    expect(await ask(43)).not.toBe(a);
  });

  it("streams text_completion chunks ending with [DONE]; usage counts the produced bytes", async () => {
    const res = await post("/v1/completions", {
      model: "policy",
      prompt: "Moby",
      max_tokens: 16,
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0,
    });
    const { events, done } = await readSse(res);
    expect(done).toBe(true);
    type Chunk = { object: string; choices: { text: string; finish_reason: string | null; completion_id?: string }[]; usage?: Usage };
    const chunks = events as Chunk[];
    expect(chunks.every((c) => c.object === "text_completion")).toBe(true);
    const text = chunks.flatMap((c) => c.choices.map((ch) => ch.text)).join("");
    const final = chunks.at(-2)!.choices[0]!;
    const stored = await w.db.apiCompletion.findUniqueOrThrow({ where: { id: final.completion_id! } });
    expect(text).toBe(stored.text);
    // byte-level model: every produced token is a byte of the text, or EOS
    const eos = stored.tokenIds.at(-1) === byteTokenizer().eos ? 1 : 0;
    expect(chunks.at(-1)!.usage!.completion_tokens).toBe(Buffer.byteLength(stored.text) + eos);
    // greedy and non-streamed gives the same text
    const plain = (await (
      await post("/v1/completions", { model: "policy", prompt: "Moby", max_tokens: 16, temperature: 0 })
    ).json()) as Text;
    expect(plain.choices[0]!.text).toBe(text);
  });

  it("a stop string ends the text before it, streamed or not", async () => {
    const free = (await (
      await post("/v1/completions", { model: "policy", prompt: "The President", max_tokens: 60, seed: 3 })
    ).json()) as Text;
    const full = free.choices[0]!.text;
    // stop at the first space after a few characters: the text must end right before it
    const at = full.indexOf(" ", 3);
    expect(at).toBeGreaterThan(0);
    const stop = full.slice(at, at + 2);
    const cut = (await (
      await post("/v1/completions", { model: "policy", prompt: "The President", max_tokens: 60, seed: 3, stop })
    ).json()) as Text;
    expect(cut.choices[0]!.text).toBe(full.slice(0, full.indexOf(stop)));
    expect(cut.choices[0]!.finish_reason).toBe("stop");
    const streamed = await readSse(
      await post("/v1/completions", { model: "policy", prompt: "The President", max_tokens: 60, seed: 3, stop: [stop], stream: true }),
    );
    const text = (streamed.events as { choices: { text: string }[] }[]).flatMap((c) => c.choices.map((ch) => ch.text)).join("");
    expect(text).toBe(cut.choices[0]!.text);
  });
});

describe("OpenAI error contract", () => {
  type Err = { error: { message: string; type: string; param: string | null; code: string | null } };
  const errorOf = async (res: Response) => {
    const body = (await res.json()) as Err;
    expect(Object.keys(body.error).sort()).toEqual(["code", "message", "param", "type"]);
    return body.error;
  };

  it("400 with the offending param for bad input", async () => {
    let r = await post("/v1/chat/completions", { model: "policy", messages: [{ role: "user", content: "x" }], temperature: 3 });
    expect(r.status).toBe(400);
    expect(await errorOf(r)).toMatchObject({ type: "invalid_request_error", param: "temperature" });
    r = await post("/v1/chat/completions", { model: "policy", messages: [] });
    expect(r.status).toBe(400);
    expect((await errorOf(r)).param).toBe("messages");
    r = await post("/v1/chat/completions", { model: "policy", messages: [{ role: "wizard", content: "x" }] });
    expect((await errorOf(r)).param).toBe("messages[0].role");
    r = await post("/v1/completions", { model: "policy", prompt: "x", max_tokens: 0 });
    expect((await errorOf(r)).param).toBe("max_tokens");
    r = await post("/v1/completions", { model: "policy", prompt: "x", best_offf: 2 });
    expect(await errorOf(r)).toMatchObject({ param: "best_offf", code: "unrecognized_argument" });
    r = await post("/v1/completions", { prompt: "x" });
    expect(await errorOf(r)).toMatchObject({ param: "model", code: "missing_required_parameter" });
    r = await post("/v1/completions", "{not json");
    expect(r.status).toBe(400);
    expect((await errorOf(r)).message).toMatch(/not valid JSON/);
    r = await post("/v1/chat/completions", { model: "policy", messages: [{ role: "user", content: "x" }], logprobs: "yes" });
    expect(await errorOf(r)).toMatchObject({ param: "logprobs" });
  });

  it("404 model_not_found for an unknown model", async () => {
    const r = await post("/v1/chat/completions", { model: "gpt-4o", messages: [{ role: "user", content: "x" }] });
    expect(r.status).toBe(404);
    expect(await errorOf(r)).toMatchObject({ param: "model", code: "model_not_found", type: "invalid_request_error" });
  });

  it("401 for a missing or wrong key, 403 for a key without the scope", async () => {
    let r = await post("/v1/completions", { model: "policy", prompt: "x" }, null);
    expect(r.status).toBe(401);
    expect((await errorOf(r)).message).toMatch(/didn't provide an API key/);
    r = await post("/v1/completions", { model: "policy", prompt: "x" }, "dpa_wrongwrongwrong");
    expect(r.status).toBe(401);
    expect((await errorOf(r)).code).toBe("invalid_api_key");
    r = await post("/v1/completions", { model: "policy", prompt: "x" }, await w.key(["vote"]));
    expect(r.status).toBe(403);
    expect((await errorOf(r)).message).toMatch(/"inference" scope/);
    r = await fetch(`${w.baseUrl}/v1/models`, { headers: { authorization: `Bearer ${await w.key(["export"])}` } });
    expect(r.status).toBe(403);
  });

  it("429 rate_limit_exceeded with Retry-After past the key's limit", async () => {
    const key = await w.key(["inference"], { rateLimitPerMinute: 3 });
    const windowAtStart = Math.floor(Date.now() / 60_000);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await fetch(`${w.baseUrl}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
      statuses.push(r.status);
      if (r.status === 429) {
        expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(0);
        expect(await errorOf(r)).toMatchObject({ code: "rate_limit_exceeded", type: "requests" });
      } else await r.body?.cancel();
    }
    // the minute window may roll over between requests; only then may the 4th pass
    const rolledOver = Math.floor(Date.now() / 60_000) !== windowAtStart;
    if (!rolledOver) expect(statuses).toEqual([200, 200, 200, 429]);
    else expect(statuses.filter((s) => s === 429).length).toBeLessThanOrEqual(1);
  });
});
