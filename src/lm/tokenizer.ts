// Tokenizers: raw UTF-8 bytes for the house model, GPT-2 BPE for imported GPT-2 checkpoints.
import { decode as bpeDecode, encode as bpeEncode } from "gpt-tokenizer/encoding/r50k_base";

export interface Tokenizer {
  /** "hf": a Hugging Face tokenizer.json read from the model directory (hf-tokenizer.ts). */
  name: "byte" | "gpt2" | "hf";
  vocabSize: number;
  bos: number;
  eos: number;
  pad: number;
  /** Ids that end a completion (EOS, end-of-turn); just `eos` when absent. */
  stopIds?: number[];
  /** Renders a raw prompt as one user turn of the model's chat template, ready for the assistant's reply. */
  chatPrompt?: (prompt: string) => string;
  /** Renders a whole conversation with the model's chat template, ending with the assistant's turn (present with `chatPrompt`). */
  chatMessages?: (messages: { role: string; content: string }[]) => string;
  /** Whether prompts without a chat template start with `bos` (false for models that have no BOS token). */
  prependBos?: boolean;
  /** The tokenizer's source files by name, written back unchanged when a checkpoint is saved. */
  files?: Map<string, string>;
  encode(text: string): number[];
  decode(ids: number[]): string;
}

export const BYTE_BOS = 256;
export const BYTE_EOS = 257;
export const BYTE_PAD = 258;
/** Embedding rows of the house model: 256 bytes + 3 specials, padded to a multiple of 4. */
export const BYTE_VOCAB_SIZE = 260;

const utf8 = new TextEncoder();
const utf8Lenient = new TextDecoder("utf-8", { fatal: false });

export function byteTokenizer(): Tokenizer {
  return {
    name: "byte",
    vocabSize: BYTE_VOCAB_SIZE,
    bos: BYTE_BOS,
    eos: BYTE_EOS,
    pad: BYTE_PAD,
    encode: (text) => Array.from(utf8.encode(text)),
    // Special and padding ids carry no text; a cut multi-byte character decodes to U+FFFD.
    decode: (ids) => utf8Lenient.decode(Uint8Array.from(ids.filter((i) => i >= 0 && i < 256))),
  };
}

const GPT2_EOT = 50256;

export function gpt2Tokenizer(): Tokenizer {
  return {
    name: "gpt2",
    vocabSize: 50257,
    bos: GPT2_EOT,
    eos: GPT2_EOT,
    pad: GPT2_EOT,
    // User text that spells "<|endoftext|>" is encoded as plain text, never as the special id.
    encode: (text) => bpeEncode(text, { disallowedSpecial: new Set() }),
    decode: (ids) => bpeDecode(ids.filter((i) => i !== GPT2_EOT && i >= 0 && i < GPT2_EOT)),
  };
}

export function tokenizerByName(name: string): Tokenizer {
  if (name === "byte") return byteTokenizer();
  if (name === "gpt2") return gpt2Tokenizer();
  throw new Error(`unknown tokenizer "${name}" (expected "byte" or "gpt2")`);
}

/**
 * The exact ids a prompt is conditioned on, for sampling, scoring and training alike: the
 * model's chat template around the raw text when it has one (one user turn, generation
 * prompt), else BOS and the text. Never empty.
 */
export function encodePrompt(tok: Tokenizer, text: string): number[] {
  if (tok.chatPrompt) {
    const ids = tok.encode(tok.chatPrompt(text));
    return ids.length ? ids : [tok.bos];
  }
  if (tok.prependBos === false) {
    const ids = tok.encode(text);
    return ids.length ? ids : [tok.bos];
  }
  return [tok.bos, ...tok.encode(text)];
}

/**
 * The ids a conversation is conditioned on, and the text they encode: the model's chat template
 * over every message when it has one; else `plainText` (the caller's rendering of the
 * conversation, e.g. a transcript) as a prompt, exactly as `encodePrompt` conditions on it.
 */
export function encodeChat(
  tok: Tokenizer,
  messages: { role: string; content: string }[],
  plainText: string,
): { ids: number[]; text: string } {
  if (tok.chatMessages) {
    const text = tok.chatMessages(messages);
    const ids = tok.encode(text);
    return { ids: ids.length ? ids : [tok.bos], text };
  }
  return { ids: encodePrompt(tok, plainText), text: plainText };
}

/**
 * One token as text and bytes, for per-token log-probs (OpenAI's `token` / `bytes`). A byte-level
 * token is its one byte (its text U+FFFD when that byte is part of a multi-byte character);
 * special tokens (BOS, EOS, end of turn) have no text.
 */
export function tokenPiece(tok: Tokenizer, id: number): { token: string; bytes: number[] } {
  if (tok.name === "byte") return id >= 0 && id < 256 ? { token: tok.decode([id]), bytes: [id] } : { token: "", bytes: [] };
  const token = tok.decode([id]);
  return { token, bytes: Array.from(utf8.encode(token)) };
}
