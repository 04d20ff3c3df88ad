// Validation of a Hugging Face model directory on this server, before anything is copied or
// registered: the directory and its files (checked here, with messages that name the file or
// field), then the lm library's own checks (architecture, every tensor's shape and dtype,
// tokenizer) and a one-token forward pass (lm-validate.ts).
import { existsSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { modelFiles } from "../../policy/digest.ts";
import type { LmValidation } from "./lm-validate.ts";

export class ModelValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModelValidationError";
  }
}

export interface ModelReport extends LmValidation {
  dir: string;
  architecture: string;
  files: string[];
  bytes: number;
}

export interface ValidateOptions {
  /** Run the lm checks in a worker thread (web processes) or in this thread (CLI, seed, tests). */
  inWorker?: boolean;
  backend?: "auto" | "tensorflow" | "wasm" | "cpu";
}

export async function validateModelDir(dirInput: string, opts: ValidateOptions = {}): Promise<ModelReport> {
  if (!path.isAbsolute(dirInput))
    throw new ModelValidationError(`"${dirInput}" is not an absolute path: give the model directory's full path on the server`);
  const dir = path.resolve(dirInput);
  const s = await stat(dir).catch(() => null);
  if (!s) throw new ModelValidationError(`${dir} does not exist on the server`);
  if (!s.isDirectory()) throw new ModelValidationError(`${dir} is not a directory`);

  const files = await modelFiles(dir);
  if (!files.includes("config.json")) throw new ModelValidationError(`${dir} has no config.json: not a Hugging Face model directory`);
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(await readFile(path.join(dir, "config.json"), "utf8"));
  } catch (err) {
    throw new ModelValidationError(`${dir}/config.json is not valid JSON (${(err as Error).message})`);
  }
  if (typeof config !== "object" || config === null || Array.isArray(config))
    throw new ModelValidationError(`${dir}/config.json is not a JSON object`);
  const architecture = config.model_type;
  if (typeof architecture !== "string" || architecture === "") throw new ModelValidationError(`${dir}/config.json has no "model_type"`);
  if (!files.some((f) => f.endsWith(".safetensors"))) {
    const torch = existsSync(path.join(dir, "pytorch_model.bin"));
    throw new ModelValidationError(
      `${dir} has no model.safetensors${torch ? " (only pytorch_model.bin: convert it to safetensors first)" : ""}`,
    );
  }
  // The house model names a built-in tokenizer in config.json; every other model brings its
  // tokenizer files (tokenizer.json, or vocab.json + merges.txt in older GPT-2 exports).
  const builtIn = (config.dpo_arena as { tokenizer?: unknown } | undefined)?.tokenizer;
  const bpeFiles = files.includes("vocab.json") && files.includes("merges.txt");
  if (!files.includes("tokenizer.json") && !bpeFiles && typeof builtIn !== "string") {
    throw new ModelValidationError(`${dir} has no tokenizer.json (copy the model's tokenizer files into the directory)`);
  }

  let lm: LmValidation;
  try {
    // Imported lazily: tfjs stays out of web processes, whose imports validate in a worker thread.
    lm = opts.inWorker
      ? await validateInWorker(dir, opts.backend ?? "auto")
      : await (await import("./lm-validate.ts")).validateWithLm(dir, opts.backend ?? "auto");
  } catch (err) {
    throw new ModelValidationError((err as Error).message);
  }
  let bytes = 0;
  for (const f of files) bytes += (await stat(path.join(dir, f))).size;
  return { dir, architecture, files, bytes, ...lm };
}

function validateInWorker(dir: string, backend: string): Promise<LmValidation> {
  const threadFile = path.resolve(process.cwd(), "src/server/services/models/validate-thread.ts");
  // Worker threads on Node 20 do not inherit `--import tsx` (see sampler/pool.ts).
  const boot = `import("tsx/esm/api").then(({ register }) => { register(); return import(${JSON.stringify(pathToFileURL(threadFile).href)}); })
    .catch((err) => { require("node:worker_threads").parentPort.postMessage({ ok: false, error: "validation thread failed to start: " + (err && err.message || err) }); });`;
  return new Promise((resolve, reject) => {
    const worker = new Worker(boot, { eval: true, workerData: { dir, backend } });
    let settled = false;
    worker.once("message", (m: { ok: true; report: LmValidation } | { ok: false; error: string }) => {
      settled = true;
      if (m.ok) resolve(m.report);
      else reject(new Error(m.error));
      void worker.terminate();
    });
    worker.once("error", (err) => {
      if (!settled) reject(err);
    });
    worker.once("exit", (code) => {
      if (!settled) reject(new Error(`validation thread exited with code ${code}`));
    });
  });
}
