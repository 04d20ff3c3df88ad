import { describe, expect, it } from "vitest";
import { byteTokenizer, encodePrompt, gpt2Tokenizer, tokenizerByName } from "./tokenizer.ts";

describe("tokenizers", () => {
  it("byte tokenizer round-trips UTF-8 and reserves BOS/EOS/PAD above the bytes", () => {
    const t = byteTokenizer();
    expect([t.bos, t.eos, t.pad, t.vocabSize]).toEqual([256, 257, 258, 260]);
    const s = "Whale — naïve café 🐋";
    expect(t.decode(t.encode(s))).toBe(s);
    expect(t.encode("A")).toEqual([65]);
    expect(t.decode([256, 72, 105, 257, 258])).toBe("Hi");
    expect(t.decode(t.encode("🐋").slice(0, 2))).toBe("\uFFFD"); // a cut character never throws
  });
  it("encodePrompt prepends BOS", () => {
    expect(encodePrompt(byteTokenizer(), "ab")).toEqual([256, 97, 98]);
    expect(encodePrompt(gpt2Tokenizer(), "Hello")).toEqual([50256, 15496]);
  });
  it("rejects unknown tokenizer names", () => {
    expect(() => tokenizerByName("sentencepiece")).toThrow(/unknown tokenizer "sentencepiece"/);
  });
});
