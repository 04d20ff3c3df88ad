// POST /v1/preferences over real HTTP on real API completions; the pairs the loop will read;
// labelers first on the shared sampler; and a plain fetch client that reads the stream the way
// the OpenAI SDK does.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getSampler } from "../../src/server/sampler/index.ts";
import { apiPreferencePairs } from "../../src/server/services/inference/pairs.ts";
import { seedVotes } from "../loop/fixtures.ts";
import { startV1World, type V1World } from "./world.ts";

let w: V1World;
let key: string;

beforeAll(async () => {
  w = await startV1World();
  key = await w.key(["inference", "vote"]);
}, 60_000);
afterAll(() => w?.close());

const post = (path: string, body: unknown, k = key) =>
  fetch(w.baseUrl + path, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${k}` },
    body: JSON.stringify(body),
  });

async function twoCompletions(prompt: string, k = key): Promise<[string, string]> {
  const r = (await (
    await post("/v1/chat/completions", { model: "policy", messages: [{ role: "user", content: prompt }], n: 2, max_tokens: 10 }, k)
  ).json()) as { choices: { completion_id: string }[] };
  return [r.choices[0]!.completion_id, r.choices[1]!.completion_id];
}

describe("POST /v1/preferences", () => {
  it("stores a vote on two of the key's completions, durably and idempotently", async () => {
    const [a, b] = await twoCompletions("The President");
    const r = await post("/v1/preferences", { completion_a: a, completion_b: b, choice: "b" });
    expect(r.status).toBe(201);
    const pref = (await r.json()) as { id: string; object: string; completion_a: string; completion_b: string; choice: string };
    expect(pref).toMatchObject({ object: "preference", completion_a: a, completion_b: b, choice: "b" });
    const row = await w.db.apiPreference.findUniqueOrThrow({ where: { id: pref.id } });
    // stored with the smaller id first; the choice is flipped with the order
    expect(row.completionAId < row.completionBId).toBe(true);
    const winner = row.choice === "A" ? row.completionAId : row.completionBId;
    expect(winner).toBe(b);
    // a retry is the same vote; a different choice on the pair is refused
    const again = await post("/v1/preferences", { completion_a: b, completion_b: a, choice: "a" });
    expect(again.status).toBe(200);
    expect(((await again.json()) as { id: string }).id).toBe(pref.id);
    const conflict = await post("/v1/preferences", { completion_a: a, completion_b: b, choice: "a" });
    expect(conflict.status).toBe(409);
    expect(await w.db.apiPreference.count()).toBe(1);
  });

  it("refuses unknown ids, another key's completions, one completion twice and mismatched prompts", async () => {
    const [a, b] = await twoCompletions("Moby");
    const unknown = await post("/v1/preferences", { completion_a: a, completion_b: "chatcmpl-nope.0", choice: "a" });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { param: string; code: string } }).error).toMatchObject({
      param: "completion_b",
      code: "completion_not_found",
    });
    const other = await w.key(["inference", "vote"]);
    const [c] = await twoCompletions("Moby", other);
    const foreign = await post("/v1/preferences", { completion_a: c, completion_b: a, choice: "a" });
    expect(foreign.status).toBe(404);
    expect(((await foreign.json()) as { error: { param: string } }).error.param).toBe("completion_a");
    expect((await post("/v1/preferences", { completion_a: a, completion_b: a, choice: "a" })).status).toBe(400);
    const [d] = await twoCompletions("Something else");
    const mismatch = await post("/v1/preferences", { completion_a: a, completion_b: d, choice: "a" });
    expect(mismatch.status).toBe(400);
    expect(((await mismatch.json()) as { error: { code: string } }).error.code).toBe("prompt_mismatch");
    const badChoice = await post("/v1/preferences", { completion_a: a, completion_b: b, choice: "left" });
    expect(badChoice.status).toBe(400);
    expect(((await badChoice.json()) as { error: { param: string } }).error.param).toBe("choice");
    // inference alone may not vote
    expect((await post("/v1/preferences", { completion_a: a, completion_b: b, choice: "a" }, await w.key(["inference"]))).status).toBe(403);
  });

  it("decisive preferences become pairs of the exact sampled ids; ties do not", async () => {
    const [a, b] = await twoCompletions("The Congress shall");
    expect((await post("/v1/preferences", { completion_a: a, completion_b: b, choice: "a" })).status).toBe(201);
    const [c, d] = await twoCompletions("The Senate");
    expect((await post("/v1/preferences", { completion_a: c, completion_b: d, choice: "tie" })).status).toBe(201);
    const pairs = await apiPreferencePairs({ db: w.db, limit: 100 });
    const pair = pairs.find((p) => p.chosen.completionId === a)!;
    expect(pair).toBeDefined();
    expect(pairs.some((p) => [c, d].includes(p.chosen.completionId))).toBe(false);
    const [ra, rb] = [
      await w.db.apiCompletion.findUniqueOrThrow({ where: { id: a } }),
      await w.db.apiCompletion.findUniqueOrThrow({ where: { id: b } }),
    ];
    expect(pair).toMatchObject({
      source: "api",
      promptIds: ra.promptTokenIds,
      chosen: { tokenIds: ra.tokenIds },
      rejected: { completionId: b, tokenIds: rb.tokenIds },
    });
    expect(await apiPreferencePairs({ db: w.db, limit: 100, exclude: [pair.voteId] })).not.toContainEqual(pair);
  });
});

describe("GET /api/export/hf-preferences", () => {
  it("streams arena and API decisive preferences as conversational JSONL, told apart by source", async () => {
    const v0 = await w.db.policyVersion.findUniqueOrThrow({ where: { name: "v0" } });
    await seedVotes(w.db, v0.id, 3, { ties: 1 });
    const [a, b] = await twoCompletions("Call me Ishmael");
    expect((await post("/v1/preferences", { completion_a: a, completion_b: b, choice: "b" })).status).toBe(201);
    const res = await fetch(`${w.baseUrl}/api/export/hf-preferences`, { headers: { authorization: `Bearer ${await w.key(["export"])}` } });
    expect(res.status).toBe(200);
    type Line = {
      id: string;
      source: string;
      prompt: { role: string; content: string }[];
      chosen: { role: string; content: string }[];
      rejected: { content: string }[];
    };
    const lines = (await res.text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Line);
    expect(lines.filter((l) => l.source === "arena")).toHaveLength(3); // the tie is not a pair
    const decisiveApi = await w.db.apiPreference.count({ where: { choice: { in: ["A", "B"] } } });
    expect(lines.filter((l) => l.source === "api")).toHaveLength(decisiveApi);
    const mine = lines.find((l) => l.source === "api" && l.prompt[0]!.content === "Call me Ishmael")!;
    const [ta, tb] = [
      await w.db.apiCompletion.findUniqueOrThrow({ where: { id: a } }),
      await w.db.apiCompletion.findUniqueOrThrow({ where: { id: b } }),
    ];
    expect(mine).toMatchObject({
      prompt: [{ role: "user", content: "Call me Ishmael" }],
      chosen: [{ role: "assistant", content: tb.text }],
      rejected: [{ content: ta.text }],
    });
    expect(
      (await fetch(`${w.baseUrl}/api/export/hf-preferences`, { headers: { authorization: `Bearer ${await w.key(["vote"])}` } })).status,
    ).toBe(403);
  });
});

describe("labelers first on the shared sampler", () => {
  it("an API request waits while a battle's request fills the only sampler thread", async () => {
    const sampler = await getSampler();
    const order: string[] = [];
    const labeler = sampler
      .generate({ promptText: "The President", n: 2, temperature: 1, topK: 0, topP: 1, maxNewTokens: 120, seed: 1 })
      .then(() => order.push("labeler"));
    await new Promise((r) => setTimeout(r, 20));
    const api = post("/v1/completions", { model: "policy", prompt: "Hi", max_tokens: 2 }).then(async (r) => {
      expect(r.status).toBe(200);
      order.push("api");
    });
    await Promise.all([labeler, api]);
    // without priority the 2-token API request joins the running batch and finishes first
    expect(order).toEqual(["labeler", "api"]);
  }, 60_000);
});

describe("an SDK-shaped client", () => {
  // What the OpenAI SDK does with `stream: true`: POST with the key, split the body on blank
  // lines, take `data:` fields, stop at [DONE], JSON-parse the rest, raise on an `error` event.
  async function* streamChat(
    baseURL: string,
    apiKey: string,
    body: object,
  ): AsyncGenerator<{ choices: { delta: { content?: string }; finish_reason: string | null }[] }> {
    const res = await fetch(`${baseURL}/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ ...body, stream: true }),
    });
    if (!res.ok)
      throw Object.assign(new Error(((await res.json()) as { error: { message: string } }).error.message), { status: res.status });
    const decoder = new TextDecoder();
    let buf = "";
    for await (const bytes of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(bytes, { stream: true });
      const parts = buf.split(/\r?\n\r?\n/);
      buf = parts.pop()!;
      for (const part of parts) {
        const data = part
          .split(/\r?\n/)
          .filter((l) => l.startsWith("data:"))
          .map((l) => l.slice(5).trimStart())
          .join("\n");
        if (data === "[DONE]") return;
        const json = JSON.parse(data);
        if (json.error) throw new Error(json.error.message);
        yield json;
      }
    }
    throw new Error("the stream ended without [DONE]");
  }

  it("streams a chat completion and sees the error classes by status", async () => {
    let text = "";
    let finish: string | null = null;
    for await (const chunk of streamChat(`${w.baseUrl}/v1`, key, {
      model: "policy",
      messages: [{ role: "user", content: "The President" }],
      max_tokens: 20,
      seed: 9,
    })) {
      for (const c of chunk.choices) {
        text += c.delta.content ?? "";
        finish = c.finish_reason ?? finish;
      }
    }
    expect(text.length).toBeGreaterThan(0);
    expect(["stop", "length"]).toContain(finish);
    const nonStreamed = (await (
      await post("/v1/chat/completions", {
        model: "policy",
        messages: [{ role: "user", content: "The President" }],
        max_tokens: 20,
        seed: 9,
      })
    ).json()) as { choices: { message: { content: string } }[] };
    expect(nonStreamed.choices[0]!.message.content).toBe(text);
    await expect(
      streamChat(`${w.baseUrl}/v1`, "dpa_revoked-or-wrong", { model: "policy", messages: [{ role: "user", content: "x" }] }).next(),
    ).rejects.toMatchObject({ status: 401 });
    await expect(
      streamChat(`${w.baseUrl}/v1`, key, { model: "nope", messages: [{ role: "user", content: "x" }] }).next(),
    ).rejects.toMatchObject({ status: 404 });
  });
});
