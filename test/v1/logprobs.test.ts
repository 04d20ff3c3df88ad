// Per-token logprobs on /v1/completions and /v1/chat/completions in OpenAI's shapes, over real
// HTTP with the shipped house model on the real sampler.
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSse, startV1World, type V1World } from "./world.ts";

let w: V1World;
let key: string;

beforeAll(async () => {
  w = await startV1World();
  key = await w.key(["inference"]);
}, 60_000);
afterAll(() => w?.close());

const post = (path: string, body: unknown) =>
  fetch(w.baseUrl + path, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify(body),
  });

type Alt = { token: string; logprob: number; bytes: number[] };
type ChatLogprobs = { content: (Alt & { top_logprobs: Alt[] })[]; refusal: null };
type Chat = {
  choices: { completion_id: string; message: { content: string }; logprobs: ChatLogprobs | null }[];
  usage: { completion_tokens: number };
};
type LegacyLogprobs = { tokens: string[]; token_logprobs: number[]; top_logprobs: Record<string, number>[]; text_offset: number[] };
type Text = { choices: { completion_id: string; text: string; logprobs: LegacyLogprobs | null }[] };

describe("logprobs on /v1/completions", () => {
  it("gives every produced token with its log-prob, the best alternatives, and offsets after the prompt", async () => {
    const prompt = "The President";
    const res = await post("/v1/completions", { model: "policy", prompt, max_tokens: 8, temperature: 0, logprobs: 3 });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Text;
    const c = body.choices[0]!;
    const lp = c.logprobs!;
    const row = await w.db.apiCompletion.findUniqueOrThrow({ where: { id: c.completion_id } });
    expect(lp.tokens).toHaveLength(row.tokenIds.length);
    // byte-level model: each token is one byte of the text
    expect(lp.tokens.join("")).toBe(c.text);
    expect(lp.text_offset[0]).toBe(prompt.length);
    expect(lp.text_offset.at(-1)).toBe(prompt.length + c.text.length - lp.tokens.at(-1)!.length);
    // the per-token log-probs add up to the completion's stored log-prob
    expect(lp.token_logprobs.reduce((a, b) => a + b, 0)).toBeCloseTo(row.logprob!, 3);
    for (const [i, top] of lp.top_logprobs.entries()) {
      const values = Object.values(top);
      expect(values.length).toBeGreaterThanOrEqual(1);
      expect(values.length).toBeLessThanOrEqual(3); // distinct strings: several bytes can show as U+FFFD
      for (const v of values) expect(v).toBeLessThanOrEqual(0);
      // greedy: the chosen token is the most likely one
      expect(lp.token_logprobs[i]).toBeCloseTo(Math.max(...values), 6);
    }
  });

  it("answers without logprobs with logprobs: null, and refuses more than 5 alternatives", async () => {
    const plain = (await (await post("/v1/completions", { model: "policy", prompt: "Hi", max_tokens: 2 })).json()) as Text;
    expect(plain.choices[0]!.logprobs).toBeNull();
    const res = await post("/v1/completions", { model: "policy", prompt: "Hi", max_tokens: 2, logprobs: 6 });
    expect(res.status).toBe(400);
    const err = (await res.json()) as { error: { message: string; param: string; type: string } };
    expect(err.error).toMatchObject({ param: "logprobs", type: "invalid_request_error" });
    expect(err.error.message).toMatch(/logprobs must be ≤ 5/);
  });
});

describe("logprobs on /v1/chat/completions", () => {
  it("gives OpenAI's content list with bytes and sorted top_logprobs, streamed or not alike", async () => {
    const ask = {
      model: "policy",
      messages: [{ role: "user", content: "The Congress" }],
      max_tokens: 10,
      seed: 9,
      logprobs: true,
      top_logprobs: 4,
    };
    const res = await post("/v1/chat/completions", ask);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Chat;
    const lp = body.choices[0]!.logprobs!;
    expect(lp.refusal).toBeNull();
    expect(lp.content).toHaveLength(body.usage.completion_tokens);
    const row = await w.db.apiCompletion.findUniqueOrThrow({ where: { id: body.choices[0]!.completion_id } });
    lp.content.forEach((t, i) => {
      const id = row.tokenIds[i]!;
      expect(t.bytes).toEqual(id < 256 ? [id] : []);
      expect(t.top_logprobs).toHaveLength(4);
      const values = t.top_logprobs.map((a) => a.logprob);
      expect([...values].sort((a, b) => b - a)).toEqual(values);
      // sampled, not greedy: the token is at most as likely as the best alternative
      expect(t.logprob).toBeLessThanOrEqual(values[0]! + 1e-9);
    });
    expect(lp.content.reduce((a, t) => a + t.logprob, 0)).toBeCloseTo(row.logprob!, 3);

    const streamed = await readSse(await post("/v1/chat/completions", { ...ask, stream: true }));
    type Chunk = { choices: { logprobs: ChatLogprobs | null; delta: { content?: string } }[] };
    const content = (streamed.events as Chunk[]).flatMap((c) => c.choices.flatMap((ch) => ch.logprobs?.content ?? []));
    expect(content).toEqual(lp.content);
  });

  it("refuses top_logprobs above 20, and top_logprobs without logprobs, with a 400 naming the parameter", async () => {
    const base = { model: "policy", messages: [{ role: "user", content: "Hi" }], max_tokens: 2 };
    const tooMany = await post("/v1/chat/completions", { ...base, logprobs: true, top_logprobs: 21 });
    expect(tooMany.status).toBe(400);
    expect(((await tooMany.json()) as { error: { message: string; param: string } }).error).toMatchObject({
      param: "top_logprobs",
      message: expect.stringMatching(/top_logprobs must be ≤ 20/),
    });
    const alone = await post("/v1/chat/completions", { ...base, top_logprobs: 2 });
    expect(alone.status).toBe(400);
    expect(((await alone.json()) as { error: { message: string; param: string } }).error).toMatchObject({
      param: "top_logprobs",
      message: "top_logprobs is only allowed when logprobs is true.",
    });
  });
});

describe("logprobs through the official openai client", () => {
  it("reads them from a non-streamed and a streamed chat completion and a legacy completion, and gets a BadRequestError past the bound", async () => {
    const client = new OpenAI({ baseURL: `${w.baseUrl}/v1`, apiKey: key, maxRetries: 0 });
    const ask = {
      model: "policy",
      messages: [{ role: "user" as const, content: "Moby" }],
      max_tokens: 6,
      seed: 4,
      logprobs: true,
      top_logprobs: 2,
    };
    const chat = await client.chat.completions.create(ask);
    const content = chat.choices[0]!.logprobs!.content!;
    expect(content).toHaveLength(chat.usage!.completion_tokens);
    expect(content.every((t) => t.top_logprobs.length === 2 && t.logprob <= 0)).toBe(true);

    const stream = await client.chat.completions.create({ ...ask, stream: true });
    const streamed: typeof content = [];
    for await (const chunk of stream) for (const ch of chunk.choices) streamed.push(...(ch.logprobs?.content ?? []));
    expect(streamed).toEqual(content);

    const legacy = await client.completions.create({ model: "policy", prompt: "Moby", max_tokens: 4, temperature: 0, logprobs: 2 });
    expect(legacy.choices[0]!.logprobs!.tokens).toHaveLength(legacy.usage!.completion_tokens);

    await expect(client.chat.completions.create({ ...ask, top_logprobs: 21 })).rejects.toBeInstanceOf(OpenAI.BadRequestError);
  });
});
