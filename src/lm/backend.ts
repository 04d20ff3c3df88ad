// Backend selection. The native TensorFlow bindings are optional dependencies whose install
// fails on machines without access to the libtensorflow host, so they are tried by dynamic
// import and skipped quietly when absent; wasm is the fast default, cpu the last resort.
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { enableNativeGemm } from "./native.ts";

export type BackendName = "tensorflow" | "wasm" | "cpu";

let chosen: Promise<BackendName> | null = null;

async function tryNative(pkg: string): Promise<boolean> {
  try {
    await import(/* @vite-ignore */ pkg);
    return (await tf.setBackend("tensorflow")) === true;
  } catch {
    return false;
  }
}

async function tryWasm(): Promise<boolean> {
  try {
    await import("@tensorflow/tfjs-backend-wasm");
    return (await tf.setBackend("wasm")) === true;
  } catch {
    return false;
  }
}

async function select(preferred: BackendName | "auto"): Promise<BackendName> {
  const order: BackendName[] = preferred === "auto" ? ["tensorflow", "wasm", "cpu"] : [preferred];
  for (const name of order) {
    let ok = false;
    if (name === "tensorflow") ok = (await tryNative("@tensorflow/tfjs-node-gpu")) || (await tryNative("@tensorflow/tfjs-node"));
    else if (name === "wasm") ok = await tryWasm();
    else ok = (await tf.setBackend("cpu")) === true;
    if (ok) {
      await tf.ready();
      return name;
    }
  }
  throw new Error(`tfjs backend "${preferred}" could not be initialised; set DPO_ARENA_TF_BACKEND to one of auto|tensorflow|wasm|cpu`);
}

function envPreference(): BackendName | "auto" {
  const v = process.env.DPO_ARENA_TF_BACKEND?.trim();
  if (!v) return "auto";
  if (v === "auto" || v === "tensorflow" || v === "wasm" || v === "cpu") return v;
  throw new Error(`DPO_ARENA_TF_BACKEND="${v}" is not one of auto|tensorflow|wasm|cpu`);
}

/**
 * Selects the tfjs backend once per process (idempotent). `DPO_ARENA_TF_BACKEND` overrides
 * `preferred`. Logs one JSON line to stderr naming the backend in use.
 */
export async function initBackend(preferred: BackendName | "auto" = "auto"): Promise<BackendName> {
  if (!chosen) {
    const pref = process.env.DPO_ARENA_TF_BACKEND ? envPreference() : preferred;
    chosen = select(pref).then((name) => {
      process.stderr.write(`${JSON.stringify({ event: "tf_backend", backend: name })}\n`);
      enableNativeGemm(name);
      return name;
    });
    chosen.catch(() => (chosen = null));
  }
  return chosen;
}

/** Switches the active backend directly (used by tests comparing backends). */
export async function useBackend(name: BackendName): Promise<void> {
  if (name === "wasm") await import("@tensorflow/tfjs-backend-wasm");
  if (!(await tf.setBackend(name))) throw new Error(`tfjs backend "${name}" is not available`);
  await tf.ready();
  if (name === "wasm") enableNativeGemm(name); // GradWorkerPool threads init through here
}
