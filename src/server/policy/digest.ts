// What a checkpoint's recorded sha256 covers. A version is its weights *and* the files that
// decide what the weights mean (config.json, tokenizer, chat template): a config.json edited
// after registration changes every log-prob as surely as a flipped weight, so it must be
// caught the same way. The digest hashes a manifest of (file name, file sha256) over exactly
// the model files of a directory, the same set an import copies.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir } from "node:fs/promises";
import path from "node:path";

const MODEL_FILES = new Set([
  "config.json",
  "generation_config.json",
  "model.safetensors.index.json",
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "added_tokens.json",
  "vocab.json",
  "merges.txt",
  "chat_template.jinja",
  "chat_template.json",
]);

/** True for the files a model directory needs (weights, config, tokenizer); READMEs, logs and PyTorch .bin copies are left out. */
export function isModelFile(name: string): boolean {
  return MODEL_FILES.has(name) || name.endsWith(".safetensors");
}

/** The model files of `dir`, sorted (so the digest does not depend on directory order). */
export async function modelFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && isModelFile(e.name))
    .map((e) => e.name)
    .sort();
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** sha256 over "name\0sha256(file)\n" for every model file, config.json included. */
export async function checkpointDigest(dir: string): Promise<string> {
  const files = await modelFiles(dir);
  if (!files.includes("config.json")) throw new Error(`${dir}: config.json not found`);
  const manifest = createHash("sha256");
  for (const name of files) manifest.update(`${name}\0${await sha256File(path.join(dir, name))}\n`);
  return manifest.digest("hex");
}

/**
 * What versions registered before config.json was covered recorded: the sha256 of
 * model.safetensors alone. Still accepted for those rows (they cannot be re-hashed after the
 * fact without trusting today's files), never written for new ones.
 */
export async function legacyWeightsDigest(dir: string): Promise<string | null> {
  try {
    return await sha256File(path.join(dir, "model.safetensors"));
  } catch {
    return null;
  }
}
