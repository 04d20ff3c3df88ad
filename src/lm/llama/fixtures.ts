// Test support: tiny random Llama-family checkpoints written in Hugging Face layout (config.json,
// safetensors single or sharded, F32 / F16 / BF16, a small byte-level BPE tokenizer.json with
// ChatML special tokens). Weight values are multiples of a power of two small enough to be
// exact in every dtype, so a reference computed from the returned values sees exactly what the
// loader reads.
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { makeRng } from "../model.ts";
import { llamaConfigFromHF } from "./config.ts";
import { hfShape, llamaParamShapes } from "./model.ts";

/** GPT-2's byte → printable character table (the ByteLevel pre-tokenizer's alphabet). */
function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let i = 33; i <= 126; i++) bs.push(i);
  for (let i = 161; i <= 172; i++) bs.push(i);
  for (let i = 174; i <= 255; i++) bs.push(i);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const out: string[] = new Array(256);
  bs.forEach((b, i) => (out[b] = String.fromCodePoint(cs[i])));
  return out;
}

export const TINY_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];
/** 256 byte tokens + 3 specials. */
export const TINY_TOKENIZER_VOCAB = 259;
export const CHATML_TEMPLATE =
  "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

export function tinyTokenizerFiles(chatTemplate: string | null = CHATML_TEMPLATE): Record<string, string> {
  const u = bytesToUnicode();
  const vocab: Record<string, number> = {};
  u.forEach((ch, b) => (vocab[ch] = b));
  const added = TINY_SPECIALS.map((content, i) => ({
    id: 256 + i,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const bl = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
  const tok = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: bl,
    post_processor: null,
    decoder: bl,
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: "",
      end_of_word_suffix: "",
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: [],
    },
  };
  const cfg: Record<string, unknown> = {
    eos_token: "<|im_end|>",
    pad_token: "<|endoftext|>",
    bos_token: null,
    add_bos_token: false,
    clean_up_tokenization_spaces: false,
  };
  if (chatTemplate !== null) cfg.chat_template = chatTemplate;
  return {
    "tokenizer.json": JSON.stringify(tok),
    "tokenizer_config.json": JSON.stringify(cfg),
    "generation_config.json": JSON.stringify({ eos_token_id: [258, 256] }),
  };
}

/** A tiny config of each family; override fields per test. */
export function tinyHFConfig(
  modelType: "llama" | "mistral" | "qwen2" | "qwen3",
  over: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    architectures: [
      { llama: "LlamaForCausalLM", mistral: "MistralForCausalLM", qwen2: "Qwen2ForCausalLM", qwen3: "Qwen3ForCausalLM" }[modelType],
    ],
    model_type: modelType,
    vocab_size: 264,
    hidden_size: 16,
    intermediate_size: 24,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 64,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    hidden_act: "silu",
    tie_word_embeddings: false,
    eos_token_id: 258,
    ...(modelType === "qwen3" ? { head_dim: 8 } : {}),
    ...(modelType === "mistral" ? { sliding_window: 4096 } : {}),
    ...over,
  };
}

export type DiskDtype = "F32" | "F16" | "BF16";

function f32ToF16Exact(x: number): number {
  if (x === 0) return 0;
  const u = new Uint32Array(new Float32Array([x]).buffer)[0];
  const sign = (u >>> 16) & 0x8000,
    e = ((u >>> 23) & 0xff) - 127,
    mant = u & 0x7fffff;
  if (e < -14 || e > 15 || (mant & 0x1fff) !== 0) throw new Error(`fixture value ${x} is not exact in F16`);
  return sign | ((e + 15) << 10) | (mant >>> 13);
}

function encode(v: Float32Array, dtype: DiskDtype): Buffer {
  if (dtype === "F32") return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  const out = new Uint16Array(v.length);
  const u = new Uint32Array(v.buffer, v.byteOffset, v.length);
  for (let i = 0; i < v.length; i++) out[i] = dtype === "BF16" ? u[i] >>> 16 : f32ToF16Exact(v[i]);
  return Buffer.from(out.buffer);
}

export function safetensorsBytes(
  tensors: [string, number[], Float32Array][],
  dtype: DiskDtype | ((name: string) => string),
  raw?: Map<string, Buffer>,
): Buffer {
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  const bodies: Buffer[] = [];
  let off = 0;
  for (const [name, shape, v] of tensors) {
    const dt = typeof dtype === "string" ? dtype : dtype(name);
    const b = raw?.get(name) ?? encode(v, dt as DiskDtype);
    header[name] = { dtype: dt, shape, data_offsets: [off, off + b.length] };
    bodies.push(b);
    off += b.length;
  }
  const h = Buffer.from(JSON.stringify(header), "utf8");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  return Buffer.concat([len, h, ...bodies]);
}

export interface WrittenModel {
  /** HF-layout values exactly as written (after dtype rounding). */
  weights: Map<string, { shape: number[]; values: Float32Array }>;
  config: Record<string, unknown>;
}

/**
 * Writes a random HF checkpoint of `config` into `dir`. Values are k·2⁻⁹·scale with |k| < 128
 * (exact in F16 and BF16); norm weights are 1 + j/128, |j| < 64.
 */
export async function writeTinyHF(
  dir: string,
  config: Record<string, unknown>,
  opts: { seed?: number; dtype?: DiskDtype; shards?: number; scale?: number; tokenizer?: Record<string, string> | null } = {},
): Promise<WrittenModel> {
  const rand = makeRng(opts.seed ?? 1);
  const cfg = llamaConfigFromHF(config, "fixture");
  const scale = opts.scale ?? 64; // → weights in about ±0.125
  const weights = new Map<string, { shape: number[]; values: Float32Array }>();
  for (const [name, internal] of llamaParamShapes(cfg)) {
    const shape = hfShape(name, internal);
    const n = shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    const isNorm = name.endsWith("norm.weight");
    for (let i = 0; i < n; i++) {
      const k = Math.floor(rand() * 255) - 127;
      v[i] = isNorm ? 1 + (k >> 1) / 128 : (k / 512) * (scale / 256);
    }
    weights.set(name, { shape, values: v });
  }
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, "config.json"), JSON.stringify(config, null, 2));
  const tensors = [...weights].map(([n, w]) => [n, w.shape, w.values] as [string, number[], Float32Array]);
  const dtype = opts.dtype ?? "F32";
  const shards = opts.shards ?? 1;
  if (shards === 1) await writeFile(path.join(dir, "model.safetensors"), safetensorsBytes(tensors, dtype));
  else {
    const weightMap: Record<string, string> = {};
    const per = Math.ceil(tensors.length / shards);
    for (let s = 0; s < shards; s++) {
      const file = `model-${String(s + 1).padStart(5, "0")}-of-${String(shards).padStart(5, "0")}.safetensors`;
      const part = tensors.slice(s * per, (s + 1) * per);
      for (const [n] of part) weightMap[n] = file;
      await writeFile(path.join(dir, file), safetensorsBytes(part, dtype));
    }
    await writeFile(path.join(dir, "model.safetensors.index.json"), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  }
  const tokFiles = opts.tokenizer === undefined ? tinyTokenizerFiles() : opts.tokenizer;
  if (tokFiles) for (const [f, text] of Object.entries(tokFiles)) await writeFile(path.join(dir, f), text);
  return { weights, config };
}
