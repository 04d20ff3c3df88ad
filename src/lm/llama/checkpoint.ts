// Llama-family checkpoints in Hugging Face layout: config.json, model.safetensors or
// model.safetensors.index.json + shards, F32 / F16 / BF16 on disk (float32 in memory).
// Loading reads only headers first, so a missing tensor, a wrong shape, an unknown dtype or a
// truncated file is reported by name before any weight is read; then tensors are read one at a
// time (peak memory: the model plus one tensor). Saving writes F32 under the same names and
// layout, so transformers loads the result unchanged.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { TOKENIZER_FILES } from "../hf-tokenizer.ts";
import type { Tokenizer } from "../tokenizer.ts";
import type { LlamaConfig } from "./config.ts";
import { hfShape, isTransposedLinear, LlamaModel, llamaParamShapes } from "./model.ts";

const DTYPE_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2 };

interface TensorRef {
  file: string;
  dtype: string;
  shape: number[];
  begin: number; // absolute byte offsets in the file
  end: number;
}

/** Reads one safetensors file's header; checks every entry against the file's size. */
async function readHeader(file: string): Promise<Map<string, TensorRef>> {
  let fh;
  try {
    fh = await open(file, "r");
  } catch {
    throw new Error(`${file}: not found`);
  }
  try {
    const size = (await fh.stat()).size;
    if (size < 8) throw new Error(`${file}: truncated (only ${size} bytes, no header)`);
    const lenBuf = Buffer.alloc(8);
    await fh.read(lenBuf, 0, 8, 0);
    const hlen = Number(lenBuf.readBigUInt64LE(0));
    if (8 + hlen > size) throw new Error(`${file}: truncated (header says ${hlen} bytes, file has ${size - 8})`);
    const hbuf = Buffer.alloc(hlen);
    await fh.read(hbuf, 0, hlen, 8);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(hbuf.toString("utf8"));
    } catch (e) {
      throw new Error(`${file}: header is not valid JSON (${(e as Error).message})`);
    }
    const out = new Map<string, TensorRef>();
    for (const [name, raw] of Object.entries(header)) {
      if (name === "__metadata__") continue;
      const e = raw as { dtype: string; shape: number[]; data_offsets: [number, number] };
      const begin = 8 + hlen + e.data_offsets[0],
        end = 8 + hlen + e.data_offsets[1];
      out.set(name, { file, dtype: e.dtype, shape: e.shape, begin, end });
      if (end > size) throw new Error(`${file}: truncated: tensor ${name} needs bytes up to ${end}, file has ${size}`);
    }
    return out;
  } finally {
    await fh.close();
  }
}

/** The weight files of a HF directory, in hashing order: the index (when sharded) and each shard. */
export async function weightFiles(dir: string): Promise<{ index: string | null; shards: string[] }> {
  const indexFile = path.join(dir, "model.safetensors.index.json");
  let indexText: string | null = null;
  try {
    indexText = await readFile(indexFile, "utf8");
  } catch {
    // not sharded
  }
  if (indexText === null) return { index: null, shards: ["model.safetensors"] };
  let map: Record<string, string>;
  try {
    map = (JSON.parse(indexText) as { weight_map: Record<string, string> }).weight_map;
    if (!map || typeof map !== "object") throw new Error("no weight_map");
  } catch (e) {
    throw new Error(`${indexFile}: not a valid safetensors index (${(e as Error).message})`);
  }
  return { index: "model.safetensors.index.json", shards: [...new Set(Object.values(map))].sort() };
}

/** Every tensor's location, from all shards' headers. */
async function tensorRefs(dir: string): Promise<Map<string, TensorRef>> {
  const { shards } = await weightFiles(dir);
  const all = new Map<string, TensorRef>();
  for (const s of shards) {
    const file = path.join(dir, s);
    for (const [k, v] of await readHeader(file)) all.set(k, v);
  }
  return all;
}

/**
 * Checks that every tensor the config implies is present with its HF shape and a supported
 * dtype, reading headers only. Returns the references to read.
 */
export async function checkTensors(dir: string, config: LlamaConfig): Promise<Map<string, TensorRef>> {
  const refs = await tensorRefs(dir);
  const out = new Map<string, TensorRef>();
  for (const [name, internal] of llamaParamShapes(config)) {
    const r = refs.get(name);
    const expected = hfShape(name, internal);
    if (!r) throw new Error(`${dir}: missing tensor ${name} (expected shape [${expected}] from config.json)`);
    if (!DTYPE_BYTES[r.dtype]) throw new Error(`${r.file}: tensor ${name} has dtype ${r.dtype}; expected F32, F16 or BF16`);
    if (r.shape.length !== expected.length || r.shape.some((d, i) => d !== expected[i]))
      throw new Error(`${r.file}: tensor ${name} has shape [${r.shape}], expected [${expected}] from config.json`);
    const n = expected.reduce((a, b) => a * b, 1);
    if (r.end - r.begin !== n * DTYPE_BYTES[r.dtype])
      throw new Error(
        `${r.file}: tensor ${name} has ${r.end - r.begin} bytes, expected ${n * DTYPE_BYTES[r.dtype]} for ${r.dtype}[${r.shape}]`,
      );
    out.set(name, r);
  }
  return out;
}

function toF32(bytes: Buffer, dtype: string): Float32Array {
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  if (dtype === "F32") return new Float32Array(ab);
  const src = new Uint16Array(ab);
  if (dtype === "BF16") {
    const u = new Uint32Array(src.length);
    for (let i = 0; i < src.length; i++) u[i] = src[i] << 16;
    return new Float32Array(u.buffer);
  }
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const h = src[i],
      s = h & 0x8000 ? -1 : 1,
      e = (h >> 10) & 0x1f,
      f = h & 0x3ff;
    out[i] = e === 0 ? s * f * 2 ** -24 : e === 31 ? (f ? NaN : s * Infinity) : s * (1 + f / 1024) * 2 ** (e - 15);
  }
  return out;
}

function transpose2d(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  const BS = 32;
  for (let i0 = 0; i0 < rows; i0 += BS) {
    for (let j0 = 0; j0 < cols; j0 += BS) {
      const i1 = Math.min(rows, i0 + BS),
        j1 = Math.min(cols, j0 + BS);
      for (let i = i0; i < i1; i++) for (let j = j0; j < j1; j++) out[j * rows + i] = a[i * cols + j];
    }
  }
  return out;
}

/** Reads the weights (after `checkTensors`) into a model, one tensor at a time. */
export async function readLlamaWeights(config: LlamaConfig, refs: Map<string, TensorRef>): Promise<LlamaModel> {
  const values = new Map<string, tf.Tensor>();
  const handles = new Map<string, Awaited<ReturnType<typeof open>>>();
  try {
    for (const [name, internal] of llamaParamShapes(config)) {
      const r = refs.get(name)!;
      let fh = handles.get(r.file);
      if (!fh) {
        fh = await open(r.file, "r");
        handles.set(r.file, fh);
      }
      const buf = Buffer.alloc(r.end - r.begin);
      const { bytesRead } = await fh.read(buf, 0, buf.length, r.begin);
      if (bytesRead !== buf.length) throw new Error(`${r.file}: truncated while reading tensor ${name}`);
      let v: Float32Array = toF32(buf, r.dtype);
      if (isTransposedLinear(name)) v = transpose2d(v, r.shape[0], r.shape[1]);
      values.set(name, tf.tensor(v, internal, "float32"));
    }
    return LlamaModel.fromParams(config, values);
  } catch (e) {
    for (const t of values.values()) t.dispose();
    throw e;
  } finally {
    for (const fh of handles.values()) await fh.close();
  }
}

/**
 * The sha256 of a HF model directory: over config.json, then the weight files
 * (model.safetensors, or model.safetensors.index.json and its shards in name order), then
 * whichever tokenizer files exist (tokenizer.json, tokenizer_config.json,
 * generation_config.json, special_tokens_map.json). Each file enters as
 * "<name>\n<byte length>\n<bytes>", so moving bytes between files changes the hash.
 */
export async function hashModelDir(dir: string): Promise<string> {
  const { index, shards } = await weightFiles(dir);
  const names = ["config.json", ...(index ? [index] : []), ...shards];
  const present = new Set(await readdir(dir));
  for (const f of TOKENIZER_FILES) if (present.has(f)) names.push(f);
  const h = createHash("sha256");
  for (const n of names) {
    const file = path.join(dir, n);
    const fh = await open(file, "r").catch(() => {
      throw new Error(`${dir}: ${n} not found`);
    });
    const size = (await fh.stat()).size;
    await fh.close();
    h.update(`${n}\n${size}\n`);
    await new Promise<void>((resolve, reject) => {
      createReadStream(file, { highWaterMark: 1 << 22 })
        .on("data", (c) => h.update(c))
        .on("end", () => resolve())
        .on("error", reject);
    });
  }
  return h.digest("hex");
}

async function writeAtomic(file: string, data: Buffer | string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, data);
  await rename(tmp, file);
}

/** Writes the model (F32, HF names and layout), its config.json and tokenizer files; returns the directory's hash. */
export async function saveLlamaCheckpoint(model: LlamaModel, tok: Tokenizer, dir: string): Promise<{ sha256: string }> {
  const { mkdir } = await import("node:fs/promises");
  await mkdir(dir, { recursive: true });
  const shapes = llamaParamShapes(model.config);
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  let off = 0;
  for (const [name, internal] of shapes) {
    const bytes = internal.reduce((a, b) => a * b, 1) * 4;
    header[name] = { dtype: "F32", shape: hfShape(name, internal), data_offsets: [off, off + bytes] };
    off += bytes;
  }
  let hjson = JSON.stringify(header);
  hjson += " ".repeat((8 - (Buffer.byteLength(hjson) % 8)) % 8); // keeps tensor data 8-byte aligned
  const stFile = path.join(dir, "model.safetensors");
  const tmp = `${stFile}.tmp-${process.pid}`;
  const fh = await open(tmp, "w");
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(Buffer.byteLength(hjson)));
    await fh.write(len);
    await fh.write(Buffer.from(hjson, "utf8"));
    // one tensor at a time, so saving a large model never holds a second copy of it
    for (const [name, internal] of shapes) {
      let v: Float32Array = Float32Array.from(model.getParam(name).dataSync() as Float32Array);
      if (isTransposedLinear(name)) v = transpose2d(v, internal[0], internal[1]);
      await fh.write(Buffer.from(v.buffer, v.byteOffset, v.byteLength));
    }
  } finally {
    await fh.close();
  }
  await rename(tmp, stFile);
  await rm(path.join(dir, "model.safetensors.index.json"), { force: true }); // a stale index would win over the new file
  await writeAtomic(path.join(dir, "config.json"), `${JSON.stringify({ ...model.config.hf, torch_dtype: "float32" }, null, 2)}\n`);
  if (!tok.files?.has("tokenizer.json"))
    throw new Error(`saveCheckpoint: tokenizer "${tok.name}" has no tokenizer.json to save with a ${model.config.modelType} model`);
  for (const [name, text] of tok.files) await writeAtomic(path.join(dir, name), text);
  return { sha256: await hashModelDir(dir) };
}
