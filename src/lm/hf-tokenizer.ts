// Hugging Face tokenizers for imported Llama-family models: tokenizer.json through
// @huggingface/tokenizers, the chat template through @huggingface/jinja, stop tokens from
// generation_config.json, tokenizer_config.json and config.json.

import { readFile } from "node:fs/promises";
import path from "node:path";
import { Template } from "@huggingface/jinja";
import { Tokenizer as HFTokenizer } from "@huggingface/tokenizers";
import type { Tokenizer } from "./tokenizer.ts";

/** The files a HF tokenizer is read from, kept verbatim so a saved checkpoint carries them unchanged. */
export const TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "generation_config.json", "special_tokens_map.json"] as const;

function tokenText(t: unknown): string | null {
  if (typeof t === "string") return t;
  if (t && typeof t === "object" && typeof (t as { content?: unknown }).content === "string") return (t as { content: string }).content;
  return null;
}

function ids(v: unknown): number[] {
  if (typeof v === "number") return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === "number");
  return [];
}

/**
 * Builds a tokenizer from a model directory's files. `modelConfig` is config.json (its
 * eos_token_id also stops generation). Throws naming the file when one is missing or invalid.
 */
export async function loadHFTokenizer(dir: string, modelConfig: Record<string, unknown>): Promise<Tokenizer> {
  const files = new Map<string, string>();
  for (const f of TOKENIZER_FILES) {
    try {
      files.set(f, await readFile(path.join(dir, f), "utf8"));
    } catch {
      if (f === "tokenizer.json") throw new Error(`${dir}: tokenizer.json not found (a Hugging Face tokenizer.json is required)`);
    }
  }
  const parse = (f: string): Record<string, unknown> => {
    const text = files.get(f);
    if (text === undefined) return {};
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new Error(`${path.join(dir, f)}: not valid JSON (${(e as Error).message})`);
    }
  };
  return hfTokenizerFromJSON(
    parse("tokenizer.json"),
    parse("tokenizer_config.json"),
    parse("generation_config.json"),
    modelConfig,
    files,
    dir,
  );
}

export function hfTokenizerFromJSON(
  tokJson: Record<string, unknown>,
  tokConfig: Record<string, unknown>,
  genConfig: Record<string, unknown>,
  modelConfig: Record<string, unknown>,
  files: Map<string, string> = new Map(),
  where = "tokenizer",
): Tokenizer {
  let hf: HFTokenizer;
  try {
    hf = new HFTokenizer(tokJson, tokConfig);
  } catch (e) {
    throw new Error(`${where}: tokenizer.json could not be read (${(e as Error).message})`);
  }
  const idOf = (t: unknown): number | null => {
    const s = tokenText(t);
    if (s === null) return null;
    const id = hf.token_to_id(s);
    return id === undefined ? null : id;
  };
  let vocabSize = 0;
  for (const id of hf.get_vocab(true).values()) if (id + 1 > vocabSize) vocabSize = id + 1;
  const eosTok = idOf(tokConfig.eos_token);
  const stop = new Set<number>([...ids(genConfig.eos_token_id), ...ids(modelConfig.eos_token_id)]);
  if (eosTok !== null) stop.add(eosTok);
  if (stop.size === 0)
    throw new Error(
      `${where}: no end-of-sequence token (eos_token in tokenizer_config.json or eos_token_id in generation_config.json / config.json)`,
    );
  const eos = eosTok ?? [...stop][0];
  const bosTok = idOf(tokConfig.bos_token) ?? (typeof modelConfig.bos_token_id === "number" ? modelConfig.bos_token_id : null);
  const pad = idOf(tokConfig.pad_token) ?? eos;
  const templateText = typeof tokConfig.chat_template === "string" ? tokConfig.chat_template : null;
  let template: Template | null = null;
  if (templateText !== null) {
    try {
      template = new Template(templateText);
    } catch (e) {
      throw new Error(`${where}: chat_template in tokenizer_config.json does not parse (${(e as Error).message})`);
    }
  }
  const bosText = tokenText(tokConfig.bos_token) ?? "";
  const eosText = tokenText(tokConfig.eos_token) ?? "";
  const render = template
    ? (messages: { role: string; content: string }[]) =>
        template.render({ messages, add_generation_prompt: true, bos_token: bosText, eos_token: eosText })
    : null;
  return {
    name: "hf",
    vocabSize,
    // prompts need a first token to condition on; models without a BOS start from EOS, as HF generation does
    bos: bosTok ?? eos,
    eos,
    pad,
    stopIds: [...stop],
    // special tokens written in the text (e.g. a rendered chat template) are matched whole, never split
    encode: (text) => hf.encode(text, { add_special_tokens: false }).ids,
    decode: (idList) => hf.decode(idList, { skip_special_tokens: true }),
    chatPrompt: render ? (prompt: string) => render([{ role: "user", content: prompt }]) : undefined,
    chatMessages: render ?? undefined,
    prependBos: bosTok !== null,
    files,
  };
}
