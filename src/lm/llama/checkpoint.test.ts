// Each malformed Llama-family directory is refused with a message naming what is wrong, and
// config problems are found before any weight is read; validateModelDir and the directory hash.
import { mkdtemp, readFile, rm, truncate, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../backend.ts";
import { loadCheckpoint } from "../checkpoint.ts";
import { validateModelDir } from "../validate.ts";
import { safetensorsBytes, tinyHFConfig, writeTinyHF } from "./fixtures.ts";

let root: string;
let n = 0;
beforeAll(async () => {
  await initBackend();
  root = await mkdtemp(path.join(tmpdir(), "llama-ckpt-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function good(config = tinyHFConfig("llama")) {
  const dir = path.join(root, `d${n++}`);
  const written = await writeTinyHF(dir, config, { seed: n });
  return { dir, written };
}

/** Rewrites model.safetensors from the written weights after `edit` changes the tensor list. */
async function rewrite(
  dir: string,
  written: Awaited<ReturnType<typeof good>>["written"],
  edit: (t: [string, number[], Float32Array][]) => [string, number[], Float32Array][],
  dtype: (name: string) => string = () => "F32",
) {
  const tensors = edit([...written.weights].map(([k, w]) => [k, w.shape, w.values]));
  await writeFile(path.join(dir, "model.safetensors"), safetensorsBytes(tensors, dtype));
}

async function refused(dir: string): Promise<string> {
  try {
    const { model } = await loadCheckpoint(dir);
    model.dispose();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("loaded without error");
}

describe("malformed directories", () => {
  it("an unsupported model_type is named, before the (here unreadable) weights are touched", async () => {
    const { dir } = await good();
    await writeFile(path.join(dir, "config.json"), JSON.stringify(tinyHFConfig("llama", { model_type: "gemma2" })));
    await writeFile(path.join(dir, "model.safetensors"), "garbage");
    expect(await refused(dir)).toMatch(/model_type = "gemma2" is not supported/);
  });

  it("another rope_scaling type, and a sliding window shorter than the context, are named", async () => {
    const a = await good();
    await writeFile(
      path.join(a.dir, "config.json"),
      JSON.stringify(tinyHFConfig("llama", { rope_scaling: { rope_type: "yarn", factor: 4 } })),
    );
    expect(await refused(a.dir)).toMatch(/rope_scaling\.rope_type = "yarn" is not supported/);
    const b = await good(tinyHFConfig("mistral"));
    await writeFile(path.join(b.dir, "config.json"), JSON.stringify(tinyHFConfig("mistral", { sliding_window: 16 })));
    expect(await refused(b.dir)).toMatch(/sliding_window = 16 is not supported/);
    await writeFile(path.join(b.dir, "config.json"), JSON.stringify(tinyHFConfig("llama", { hidden_act: "gelu" })));
    expect(await refused(b.dir)).toMatch(/hidden_act = "gelu"/);
  });

  it("a missing tensor is named", async () => {
    const { dir, written } = await good();
    await rewrite(dir, written, (t) => t.filter(([k]) => k !== "model.layers.1.mlp.up_proj.weight"));
    expect(await refused(dir)).toMatch(/missing tensor model\.layers\.1\.mlp\.up_proj\.weight/);
  });

  it("a wrong shape is named with both shapes", async () => {
    const { dir, written } = await good();
    await rewrite(dir, written, (t) =>
      t.map(([k, s, v]) => (k === "model.layers.0.self_attn.k_proj.weight" ? [k, [s[1], s[0]], v] : [k, s, v])),
    );
    expect(await refused(dir)).toMatch(/tensor model\.layers\.0\.self_attn\.k_proj\.weight has shape \[16,8\], expected \[8,16\]/);
  });

  it("an unknown dtype is named", async () => {
    const { dir, written } = await good();
    await rewrite(
      dir,
      written,
      (t) => t,
      (k) => (k === "model.norm.weight" ? "F64" : "F32"),
    );
    expect(await refused(dir)).toMatch(/tensor model\.norm\.weight has dtype F64/);
  });

  it("a truncated file names the first tensor that does not fit", async () => {
    const { dir } = await good();
    const file = path.join(dir, "model.safetensors");
    const size = (await readFile(file)).length;
    await truncate(file, size - 100);
    expect(await refused(dir)).toMatch(/truncated: tensor lm_head\.weight needs bytes up to \d+, file has \d+/);
  });

  it("a missing shard and a missing tokenizer are named", async () => {
    const dir = path.join(root, "sharded");
    await writeTinyHF(dir, tinyHFConfig("qwen2"), { shards: 2 });
    await unlink(path.join(dir, "model-00002-of-00002.safetensors"));
    expect(await refused(dir)).toMatch(/model-00002-of-00002\.safetensors: not found/);
    const { dir: d2 } = await good();
    await unlink(path.join(d2, "tokenizer.json"));
    expect(await refused(d2)).toMatch(/tokenizer\.json not found/);
  });
});

describe("validateModelDir and the directory hash", () => {
  it("describes a good directory after a forward pass, with loadCheckpoint's sha256", async () => {
    const { dir } = await good(tinyHFConfig("qwen3", { tie_word_embeddings: true }));
    const info = await validateModelDir(dir);
    expect(info).toMatchObject({
      modelType: "qwen3",
      vocabSize: 264,
      contextLength: 64,
      nLayer: 2,
      hiddenSize: 16,
      tokenizer: "hf",
      hasChatTemplate: true,
    });
    expect(Number.isFinite(info.probeLogprob)).toBe(true);
    const { model, sha256 } = await loadCheckpoint(dir);
    expect(info.numParams).toBe(model.numParams());
    model.dispose();
    expect(info.sha256).toBe(sha256);
    // the hash covers config.json: any change to it changes the hash
    const cfg = JSON.parse(await readFile(path.join(dir, "config.json"), "utf8"));
    await writeFile(path.join(dir, "config.json"), JSON.stringify({ ...cfg, rms_norm_eps: 1e-5 }));
    expect((await validateModelDir(dir)).sha256).not.toBe(sha256);
  });

  it("refuses a directory whose weights overflow (non-finite log-probs)", async () => {
    const { dir, written } = await good();
    await rewrite(dir, written, (t) =>
      t.map(([k, s, v]) => (k === "model.norm.weight" ? [k, s, new Float32Array(v.length).fill(Number.NaN)] : [k, s, v])),
    );
    await expect(validateModelDir(dir)).rejects.toThrow(/non-finite log-prob/);
  });
});
