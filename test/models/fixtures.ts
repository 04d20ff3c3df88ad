// Model directories for the import tests: copies of the shipped house model (a GPT-2
// Hugging Face directory), either varied into a different valid model or broken one way.
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { HOUSE_MODEL_DIR } from "../../src/lm/index.ts";

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(tmpdir(), `dpo-models-${prefix}-`));
}

/** A copy of the house model's model files (not its README or training log). */
export async function houseCopy(prefix = "copy"): Promise<string> {
  const dir = await tempDir(prefix);
  for (const f of ["config.json", "model.safetensors"]) await cp(path.join(HOUSE_MODEL_DIR, f), path.join(dir, f));
  return dir;
}

export async function editConfig(dir: string, edit: (c: Record<string, unknown>) => void): Promise<void> {
  const file = path.join(dir, "config.json");
  const c = JSON.parse(await readFile(file, "utf8"));
  edit(c);
  await writeFile(file, JSON.stringify(c, null, 2));
}

/** A valid model that is not the house model: same weights, a different layer-norm epsilon. */
export async function houseVariant(prefix = "variant", eps = 1e-6): Promise<string> {
  const dir = await houseCopy(prefix);
  await editConfig(dir, (c) => (c.layer_norm_epsilon = eps));
  return dir;
}

type Header = Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;

/** Rewrites model.safetensors with `edit` applied to its header and tensor data (kept 8-byte aligned). */
export async function editSafetensors(dir: string, edit: (header: Header, data: Buffer) => Buffer): Promise<void> {
  const file = path.join(dir, "model.safetensors");
  const buf = await readFile(file);
  const hlen = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + hlen).toString("utf8")) as Header;
  const data = edit(header, buf.subarray(8 + hlen));
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const h = Buffer.from(json, "utf8");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  await writeFile(file, Buffer.concat([len, h, data]));
}

export const BROKEN: Record<string, { break: (dir: string) => Promise<void>; error: RegExp }> = {
  "missing tensor": {
    break: (dir) => editSafetensors(dir, (h, d) => (delete h["transformer.h.1.mlp.c_fc.weight"], d)),
    error: /missing tensor transformer\.h\.1\.mlp\.c_fc\.weight/,
  },
  "wrong shape": {
    break: (dir) =>
      editSafetensors(dir, (h, d) => {
        const e = h["transformer.h.0.attn.c_proj.weight"] as { shape: number[] };
        e.shape = [e.shape[1]! / 2, e.shape[0]! * 2];
        return d;
      }),
    error: /tensor transformer\.h\.0\.attn\.c_proj\.weight has shape \[64,256\], expected \[128,128\]/,
  },
  "bad dtype": {
    break: (dir) => editSafetensors(dir, (h, d) => (((h["transformer.wte.weight"] as { dtype: string }).dtype = "I32"), d)),
    error: /transformer\.wte\.weight has dtype I32/,
  },
  "unsupported model_type": {
    break: (dir) => editConfig(dir, (c) => (c.model_type = "bert")),
    error: /model_type = "bert" is not supported/,
  },
  "missing tokenizer": {
    break: (dir) => editConfig(dir, (c) => delete c.dpo_arena),
    error: /no tokenizer\.json/,
  },
  "unknown built-in tokenizer": {
    break: (dir) => editConfig(dir, (c) => (c.dpo_arena = { tokenizer: "sentencepiece" })),
    error: /unknown tokenizer "sentencepiece"/,
  },
  "missing config": {
    break: (dir) => rm(path.join(dir, "config.json")),
    error: /has no config\.json/,
  },
  "truncated weights": {
    break: async (dir) => {
      const f = path.join(dir, "model.safetensors");
      const b = await readFile(f);
      await writeFile(f, b.subarray(0, b.length - 1000));
    },
    error: /truncated/,
  },
};

/** Everything in a store directory, hidden staging leftovers included. */
export async function storeEntries(root: string): Promise<string[]> {
  return readdir(root).catch(() => []);
}
