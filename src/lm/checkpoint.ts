// Checkpoints in Hugging Face GPT-2 format: model.safetensors (Conv1D layout, HF tensor
// names, LM head tied to wte) + config.json. What this writes loads in transformers'
// GPT2LMHeadModel, and a local HF GPT-2-family directory (gpt2, distilgpt2) loads here.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { CausalLM } from "./causal.ts";
import { loadHFTokenizer } from "./hf-tokenizer.ts";
import { checkTensors, hashModelDir, readLlamaWeights, saveLlamaCheckpoint } from "./llama/checkpoint.ts";
import { DEFAULT_CONTEXT_LIMIT, llamaConfigFromHF } from "./llama/config.ts";
import { GPT, type GPTConfig, paramShapes } from "./model.ts";
import { type Tokenizer, tokenizerByName } from "./tokenizer.ts";

/**
 * Absolute path of the shipped house model. Resolved next to this source file, or from the
 * working directory when a bundler (Next.js) has moved the compiled module elsewhere.
 */
export const HOUSE_MODEL_DIR = (() => {
  const candidates: string[] = [];
  try {
    candidates.push(path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../models/house"));
  } catch {
    // import.meta.url is not a file: URL in some bundles
  }
  candidates.push(path.resolve(process.cwd(), "models/house"));
  return candidates.find((d) => existsSync(path.join(d, "config.json"))) ?? candidates[0];
})();

export function configToHF(c: GPTConfig, tok: Tokenizer): Record<string, unknown> {
  return {
    architectures: ["GPT2LMHeadModel"],
    model_type: "gpt2",
    vocab_size: c.vocabSize,
    n_positions: c.nPositions,
    n_ctx: c.nPositions,
    n_embd: c.nEmbd,
    n_layer: c.nLayer,
    n_head: c.nHead,
    n_inner: null,
    layer_norm_epsilon: c.layerNormEpsilon,
    activation_function: "gelu_new",
    resid_pdrop: 0.0,
    embd_pdrop: 0.0,
    attn_pdrop: 0.0,
    initializer_range: 0.02,
    bos_token_id: tok.bos,
    eos_token_id: tok.eos,
    pad_token_id: tok.pad,
    tie_word_embeddings: true,
    torch_dtype: "float32",
    dpo_arena: { tokenizer: tok.name },
  };
}

function configFromHF(j: Record<string, unknown>, file: string): { config: GPTConfig; tokenizer: string } {
  const num = (k: string, dflt?: number): number => {
    const v = j[k] ?? dflt;
    if (typeof v !== "number" || !Number.isFinite(v)) throw new Error(`${file}: "${k}" is missing or not a number`);
    return v;
  };
  if (j.model_type !== undefined && j.model_type !== "gpt2")
    throw new Error(`${file}: model_type "${String(j.model_type)}" is not supported (only "gpt2")`);
  const act = j.activation_function ?? "gelu_new";
  if (act !== "gelu_new" && act !== "gelu_pytorch_tanh")
    throw new Error(`${file}: activation_function "${String(act)}" is not supported (only gelu_new)`);
  if (j.n_inner !== undefined && j.n_inner !== null && j.n_inner !== 4 * num("n_embd"))
    throw new Error(`${file}: n_inner must be 4*n_embd`);
  const config: GPTConfig = {
    vocabSize: num("vocab_size"),
    nPositions: num("n_positions", j.n_ctx as number | undefined),
    nEmbd: num("n_embd"),
    nLayer: num("n_layer"),
    nHead: num("n_head"),
    layerNormEpsilon: num("layer_norm_epsilon", 1e-5),
  };
  const meta = j.dpo_arena as { tokenizer?: string } | undefined;
  const tokenizer = meta?.tokenizer ?? (config.vocabSize >= 50257 ? "gpt2" : "byte");
  return { config, tokenizer };
}

const DTYPE_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2 };

function f16ToF32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const h = src[i];
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const f = h & 0x3ff;
    out[i] = e === 0 ? s * f * 2 ** -24 : e === 31 ? (f ? NaN : s * Infinity) : s * (1 + f / 1024) * 2 ** (e - 15);
  }
  return out;
}

function bf16ToF32(src: Uint16Array): Float32Array {
  const u = new Uint32Array(src.length);
  for (let i = 0; i < src.length; i++) u[i] = src[i] << 16;
  return new Float32Array(u.buffer);
}

interface STEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** Parses a safetensors buffer into float32 arrays, checking every entry against the file size. */
export function parseSafetensors(buf: Buffer, file: string): Map<string, { shape: number[]; dtype: string; values: Float32Array }> {
  if (buf.length < 8) throw new Error(`${file}: truncated (only ${buf.length} bytes, no header)`);
  const hlen = Number(buf.readBigUInt64LE(0));
  if (8 + hlen > buf.length) throw new Error(`${file}: truncated (header says ${hlen} bytes, file has ${buf.length - 8})`);
  let header: Record<string, STEntry | Record<string, string>>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + hlen).toString("utf8"));
  } catch (e) {
    throw new Error(`${file}: header is not valid JSON (${(e as Error).message})`);
  }
  const dataStart = 8 + hlen;
  const out = new Map<string, { shape: number[]; dtype: string; values: Float32Array }>();
  for (const [name, raw] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const e = raw as STEntry;
    const [b, en] = e.data_offsets;
    const n = e.shape.reduce((a, x) => a * x, 1);
    if (dataStart + en > buf.length)
      throw new Error(`${file}: truncated: tensor ${name} needs bytes up to ${dataStart + en}, file has ${buf.length}`);
    const width = DTYPE_BYTES[e.dtype];
    if (!width) {
      out.set(name, { shape: e.shape, dtype: e.dtype, values: new Float32Array(0) });
      continue;
    }
    if (en - b !== n * width)
      throw new Error(`${file}: tensor ${name} has ${en - b} bytes, expected ${n * width} for ${e.dtype}[${e.shape}]`);
    const bytes = new Uint8Array(buf.buffer.slice(buf.byteOffset + dataStart + b, buf.byteOffset + dataStart + en));
    const values =
      e.dtype === "F32"
        ? new Float32Array(bytes.buffer)
        : e.dtype === "F16"
          ? f16ToF32(new Uint16Array(bytes.buffer))
          : bf16ToF32(new Uint16Array(bytes.buffer));
    out.set(name, { shape: e.shape, dtype: e.dtype, values });
  }
  return out;
}

export function serializeSafetensors(tensors: [string, number[], Float32Array][], metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let off = 0;
  for (const [name, shape, v] of tensors) {
    header[name] = { dtype: "F32", shape, data_offsets: [off, off + v.byteLength] };
    off += v.byteLength;
  }
  let hjson = JSON.stringify(header);
  hjson += " ".repeat((8 - (Buffer.byteLength(hjson) % 8)) % 8); // keeps tensor data 8-byte aligned
  const hbytes = Buffer.from(hjson, "utf8");
  const out = Buffer.alloc(8 + hbytes.length + off);
  out.writeBigUInt64LE(BigInt(hbytes.length), 0);
  hbytes.copy(out, 8);
  let pos = 8 + hbytes.length;
  for (const [, , v] of tensors) {
    Buffer.from(v.buffer, v.byteOffset, v.byteLength).copy(out, pos);
    pos += v.byteLength;
  }
  return out;
}

async function writeAtomic(file: string, data: Buffer | string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, data);
  await rename(tmp, file);
}

/**
 * Writes a model in its architecture's Hugging Face layout. GPT-2: model.safetensors +
 * config.json, sha256 of the safetensors file. Llama family: see saveLlamaCheckpoint (sha256 of
 * the directory as hashModelDir defines it).
 */
export async function saveCheckpoint(model: CausalLM, tok: Tokenizer, dir: string): Promise<{ sha256: string }> {
  if (model.arch === "llama") return saveLlamaCheckpoint(model, tok, dir);
  if (tok.vocabSize > model.config.vocabSize)
    throw new Error(`tokenizer "${tok.name}" needs ${tok.vocabSize} ids but the model has ${model.config.vocabSize}`);
  await mkdir(dir, { recursive: true });
  const tensors: [string, number[], Float32Array][] = model.paramNames().map((n) => {
    const t = model.getParam(n);
    return [n, t.shape, Float32Array.from(t.dataSync() as Float32Array)];
  });
  const buf = serializeSafetensors(tensors, { format: "pt" });
  await writeAtomic(path.join(dir, "model.safetensors"), buf);
  await writeAtomic(path.join(dir, "config.json"), `${JSON.stringify(configToHF(model.config, tok), null, 2)}\n`);
  return { sha256: createHash("sha256").update(buf).digest("hex") };
}

// HF buffers that are not parameters (causal-mask caches in older GPT-2 exports) and the tied head.
const IGNORED = /(^|\.)attn\.(masked_)?bias$|^lm_head\.weight$/;

export interface LoadOptions {
  /** Longest context planned for a Llama-family model (default 2048): max_position_embeddings is capped to it. */
  contextLimit?: number;
}

async function readConfig(dir: string): Promise<Record<string, unknown>> {
  const cfgFile = path.join(dir, "config.json");
  let cfgText: string;
  try {
    cfgText = await readFile(cfgFile, "utf8");
  } catch {
    throw new Error(`checkpoint ${dir}: config.json not found`);
  }
  try {
    const j = JSON.parse(cfgText);
    if (!j || typeof j !== "object" || Array.isArray(j)) throw new Error("not an object");
    return j;
  } catch (e) {
    throw new Error(`${cfgFile}: not valid JSON (${(e as Error).message})`);
  }
}

const isGPT2 = (j: Record<string, unknown>) => j.model_type === undefined || j.model_type === "gpt2";

/**
 * Loads a checkpoint directory: GPT-2 (the house model's format) or a Llama-family HF model
 * (llama, mistral, qwen2, qwen3). config.json is checked (unsupported architectures and options
 * are refused by field and value), then the tokenizer, then every tensor's name, shape and
 * dtype from the safetensors headers, all before any weight is read.
 */
export async function loadCheckpoint(
  dir: string,
  opts: LoadOptions = {},
): Promise<{ model: CausalLM; tokenizer: Tokenizer; sha256: string }> {
  const cfgJson = await readConfig(dir);
  if (!isGPT2(cfgJson)) {
    const config = llamaConfigFromHF(cfgJson, path.join(dir, "config.json"), opts.contextLimit ?? DEFAULT_CONTEXT_LIMIT);
    const tokenizer = await loadHFTokenizer(dir, cfgJson);
    if (tokenizer.vocabSize > config.vocabSize)
      throw new Error(`${dir}: tokenizer.json has ids up to ${tokenizer.vocabSize - 1} but config.json vocab_size is ${config.vocabSize}`);
    const refs = await checkTensors(dir, config);
    const model = await readLlamaWeights(config, refs);
    return { model, tokenizer, sha256: await hashModelDir(dir) };
  }
  return loadGPT2(dir, cfgJson);
}

/**
 * Only the tokenizer of a checkpoint directory (no weights read): what importing text data for
 * a model needs, in processes that do not hold the model.
 */
export async function loadTokenizer(dir: string): Promise<Tokenizer> {
  const cfgJson = await readConfig(dir);
  if (!isGPT2(cfgJson)) return loadHFTokenizer(dir, cfgJson);
  return tokenizerByName(configFromHF(cfgJson, path.join(dir, "config.json")).tokenizer);
}

async function loadGPT2(dir: string, cfgJson: Record<string, unknown>): Promise<{ model: GPT; tokenizer: Tokenizer; sha256: string }> {
  const cfgFile = path.join(dir, "config.json");
  const stFile = path.join(dir, "model.safetensors");
  const { config, tokenizer: tokName } = configFromHF(cfgJson, cfgFile);
  const tokenizer = tokenizerByName(tokName);
  let buf: Buffer;
  try {
    buf = await readFile(stFile);
  } catch {
    throw new Error(`checkpoint ${dir}: model.safetensors not found`);
  }
  const raw = parseSafetensors(buf, stFile);
  // GPT2LMHeadModel exports prefix names with "transformer."; GPT2Model exports do not.
  const byName = new Map<string, { shape: number[]; dtype: string; values: Float32Array }>();
  for (const [k, v] of raw) {
    if (IGNORED.test(k)) continue;
    byName.set(k.startsWith("transformer.") ? k : `transformer.${k}`, v);
  }
  const values = new Map<string, Float32Array>();
  for (const [name, shape] of paramShapes(config)) {
    const e = byName.get(name);
    if (!e) throw new Error(`${stFile}: missing tensor ${name}`);
    if (!DTYPE_BYTES[e.dtype]) throw new Error(`${stFile}: tensor ${name} has dtype ${e.dtype}; expected F32, F16 or BF16`);
    if (e.shape.length !== shape.length || e.shape.some((d, i) => d !== shape[i])) {
      throw new Error(`${stFile}: tensor ${name} has shape [${e.shape}], expected [${shape}] from config.json`);
    }
    values.set(name, e.values);
  }
  const model = GPT.fromParams(config, values);
  return { model, tokenizer, sha256: createHash("sha256").update(buf).digest("hex") };
}
