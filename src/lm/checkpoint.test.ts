import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "./backend.ts";
import { configToHF, HOUSE_MODEL_DIR, loadCheckpoint, saveCheckpoint, serializeSafetensors } from "./checkpoint.ts";
import { scoreCompletions } from "./forward.ts";
import { type GPTConfig, paramShapes } from "./model.ts";
import { sample } from "./sample.ts";
import { tinyModel, values } from "./testing.ts";
import { byteTokenizer, encodePrompt, gpt2Tokenizer } from "./tokenizer.ts";

const CFG: GPTConfig = { vocabSize: 260, nPositions: 32, nEmbd: 16, nLayer: 2, nHead: 2, layerNormEpsilon: 1e-5 };
let root: string;

beforeAll(async () => {
  await initBackend();
  root = await mkdtemp(path.join(tmpdir(), "lm-ckpt-"));
  return () => rm(root, { recursive: true, force: true });
});

/** Writes a checkpoint directory from raw safetensors entries, for the error cases. */
async function writeRaw(name: string, entries: { name: string; dtype: string; shape: number[]; bytes: Uint8Array }[], cfg = CFG) {
  const dir = path.join(root, name);
  await mkdir(dir, { recursive: true });
  const header: Record<string, unknown> = {};
  let off = 0;
  for (const e of entries) {
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [off, off + e.bytes.length] };
    off += e.bytes.length;
  }
  const h = Buffer.from(JSON.stringify(header));
  const buf = Buffer.alloc(8 + h.length + off);
  buf.writeBigUInt64LE(BigInt(h.length), 0);
  h.copy(buf, 8);
  let p = 8 + h.length;
  for (const e of entries) {
    Buffer.from(e.bytes).copy(buf, p);
    p += e.bytes.length;
  }
  await writeFile(path.join(dir, "model.safetensors"), buf);
  await writeFile(path.join(dir, "config.json"), JSON.stringify(configToHF(cfg, byteTokenizer())));
  return dir;
}

function f32Entries(cfg: GPTConfig) {
  return paramShapes(cfg).map(([name, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = Float32Array.from({ length: n }, (_, i) => Math.sin(i + name.length) * 0.05);
    return { name, dtype: "F32", shape, bytes: new Uint8Array(v.buffer) };
  });
}

function toF16(x: number): number {
  // round-to-nearest half for values in the normal range used here
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  if (exp <= 0) return sign;
  const mant = (u >>> 13) & 0x3ff;
  return sign | (exp << 10) | mant;
}

describe("checkpoints", () => {
  it("round-trips bit-exactly with HF config keys", async () => {
    const m = tinyModel(2, CFG, 0.2);
    const dir = path.join(root, "rt");
    const { sha256 } = await saveCheckpoint(m, byteTokenizer(), dir);
    const cfg = JSON.parse(await readFile(path.join(dir, "config.json"), "utf8"));
    expect(cfg).toMatchObject({
      model_type: "gpt2",
      vocab_size: 260,
      n_positions: 32,
      n_embd: 16,
      n_layer: 2,
      n_head: 2,
      layer_norm_epsilon: 1e-5,
      activation_function: "gelu_new",
      architectures: ["GPT2LMHeadModel"],
      dpo_arena: { tokenizer: "byte" },
    });
    const back = await loadCheckpoint(dir);
    expect(back.sha256).toBe(sha256);
    expect(back.tokenizer.name).toBe("byte");
    expect(back.model.config).toEqual(m.config);
    for (const n of m.paramNames())
      expect(Buffer.from(values(back.model.getParam(n)).buffer).equals(Buffer.from(values(m.getParam(n)).buffer)), n).toBe(true);
    const items = [{ promptIds: [256, 72, 105], completionIds: [33, 257] }];
    expect(scoreCompletions(back.model, items).sum).toEqual(scoreCompletions(m, items).sum);
    m.dispose();
    back.model.dispose();
  });

  it("loads an HF GPT2Model-style export: unprefixed names, F16/BF16, attn.bias buffers, lm_head", async () => {
    const entries = f32Entries(CFG).map((e, i) => {
      const f = new Float32Array(e.bytes.buffer);
      const name = e.name.replace(/^transformer\./, "");
      if (i % 2 === 0) return { name, dtype: "F16", shape: e.shape, bytes: new Uint8Array(Uint16Array.from(f, toF16).buffer) };
      const u = new Uint32Array(f.buffer);
      return { name, dtype: "BF16", shape: e.shape, bytes: new Uint8Array(Uint16Array.from(u, (x) => x >>> 16).buffer) };
    });
    entries.push({ name: "h.0.attn.bias", dtype: "U8", shape: [1, 1, 32, 32], bytes: new Uint8Array(32 * 32) });
    entries.push({ name: "lm_head.weight", dtype: "F32", shape: [260, 16], bytes: new Uint8Array(260 * 16 * 4) });
    const dir = await writeRaw("hf", entries);
    const { model } = await loadCheckpoint(dir);
    const wte = values(model.getParam("transformer.wte.weight"));
    expect(wte[1]).toBeCloseTo(Math.sin(1 + "transformer.wte.weight".length) * 0.05, 3);
    const lnb = values(model.getParam("transformer.h.1.ln_2.bias"));
    expect(lnb[3]).toBeCloseTo(Math.sin(3 + "transformer.h.1.ln_2.bias".length) * 0.05, 2);
    model.dispose();
  });

  it("the GPT-2 BPE tokenizer round-trips text and never emits EOT for user text", async () => {
    const t = gpt2Tokenizer();
    expect(t.encode("Hello world")).toEqual([15496, 995]);
    expect(t.decode(t.encode("Hello world"))).toBe("Hello world");
    expect(t.encode("<|endoftext|>")).not.toContain(50256);
  });

  it("names the missing tensor", async () => {
    const dir = await writeRaw(
      "missing",
      f32Entries(CFG).filter((e) => e.name !== "transformer.h.1.mlp.c_fc.bias"),
    );
    await expect(loadCheckpoint(dir)).rejects.toThrow(/missing tensor transformer\.h\.1\.mlp\.c_fc\.bias/);
  });

  it("names a tensor with the wrong shape", async () => {
    const entries = f32Entries(CFG);
    const i = entries.findIndex((e) => e.name === "transformer.h.0.attn.c_attn.weight");
    entries[i] = { ...entries[i], shape: [48, 16] }; // HF Linear (out, in) instead of Conv1D (in, out)
    const dir = await writeRaw("shape", entries);
    await expect(loadCheckpoint(dir)).rejects.toThrow(/transformer\.h\.0\.attn\.c_attn\.weight has shape \[48,16\], expected \[16,48\]/);
  });

  it("names a tensor with an unsupported dtype", async () => {
    const entries = f32Entries(CFG);
    const i = entries.findIndex((e) => e.name === "transformer.ln_f.weight");
    entries[i] = { ...entries[i], dtype: "I32" };
    const dir = await writeRaw("dtype", entries);
    await expect(loadCheckpoint(dir)).rejects.toThrow(/transformer\.ln_f\.weight has dtype I32; expected F32, F16 or BF16/);
  });

  it("reports a truncated file", async () => {
    const dir = await writeRaw("trunc", f32Entries(CFG));
    const f = path.join(dir, "model.safetensors");
    const buf = await readFile(f);
    await writeFile(f, buf.subarray(0, buf.length - 100));
    await expect(loadCheckpoint(dir)).rejects.toThrow(/truncated/);
    await writeFile(f, buf.subarray(0, 6));
    await expect(loadCheckpoint(dir)).rejects.toThrow(/truncated/);
  });

  it("reports a missing directory clearly", async () => {
    await expect(loadCheckpoint(path.join(root, "nope"))).rejects.toThrow(/config\.json not found/);
  });

  it("ships a house model that loads, fits the size budget and samples text", async () => {
    const { model, tokenizer, sha256 } = await loadCheckpoint(HOUSE_MODEL_DIR);
    expect(tokenizer.name).toBe("byte");
    expect(sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(model.numParams() * 4).toBeLessThan(30e6);
    const [r] = await sample(model, tokenizer, {
      promptIds: encodePrompt(tokenizer, "The "),
      n: 1,
      temperature: 0,
      maxNewTokens: 16,
      seed: 0,
    });
    expect(r.ids.length).toBeGreaterThan(0);
    model.dispose();
  });

  it("serializes 8-byte aligned tensor data", () => {
    const buf = serializeSafetensors([["a", [3], Float32Array.from([1, 2, 3])]]);
    expect(Number(buf.readBigUInt64LE(0)) % 8).toBe(0);
  });
});
