// `npm run bench -- memory`: where the memory goes (issues 14 and 18). Each measurement runs in
// its own process, so each peak RSS is its own:
//   serve N     a web process's sampler pool with N threads serving a SmolLM2-135M-shape checkpoint
//               (random weights, written once to a temp directory), 16 concurrent requests
//   train W     four DPO steps at that shape (8 pairs × 128 tokens), W gradient worker threads
//   rounds      20 DPO rounds on the house model the way the trainer runs them (load base,
//               train, save, dispose): RSS and tf.memory() after every round
// Prints JSON lines; memory is not load-sensitive, but every timing carries the load average.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { runRound } from "../src/dpo/round.ts";
import { markerPairs } from "../src/dpo/testdata.ts";
import {
  AdamW,
  disposeGrads,
  forwardWithGrad,
  GradWorkerPool,
  HOUSE_MODEL_DIR,
  initBackend,
  LlamaModel,
  llamaConfigFromHF,
  loadCheckpoint,
  makeRng,
  saveCheckpoint,
} from "../src/lm/index.ts";
import { tinyTokenizerFiles, writeTinyHF } from "../src/lm/llama/fixtures.ts";
import { checkpointDigest } from "../src/server/policy/digest.ts";
import { SamplerPool, type ThreadMemory } from "../src/server/sampler/pool.ts";
import { SMOL_CONFIG as SMOL_SHAPE, smolDpoStep } from "./smol-shape.ts";

const emit = (o: Record<string, unknown>) => console.log(JSON.stringify(o));
const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
const peakRssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);
const load1m = () => +os.loadavg()[0].toFixed(2);
/** The main thread's WebAssembly heap (null off the wasm backend). */
const wasmHeapMb = () => {
  const heap = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8;
  return heap ? mb(heap.byteLength) : null;
};
/** The SmolLM2-135M shape (smol-shape.ts), with the 2,048-token context this bench has always written. */
const SMOL_CONFIG = { ...SMOL_SHAPE, max_position_embeddings: 2048 };
const SMOL_DIR = path.join(os.tmpdir(), "dpo-arena-bench-smollm2-135m-shape");

/**
 * The 135M-shape checkpoint the serving measurement loads, written once (by a process of its
 * own: writing it holds the weights twice, which must not count in the measured peak).
 */
function smolCheckpoint(): string {
  if (!existsSync(path.join(SMOL_DIR, "tokenizer.json"))) {
    // written last
    const r = spawnSync(process.execPath, [...process.execArgv, process.argv[1], "prepare"], { stdio: "inherit" });
    if (r.status !== 0) throw new Error(`writing the 135M-shape checkpoint to ${SMOL_DIR} failed`);
  }
  return SMOL_DIR;
}

async function serve(threads: number): Promise<void> {
  const dir = smolCheckpoint();
  const base = { bench: "memory_serve", threads, model: "SmolLM2-135M shape (random weights, float32 0.54 GB)" };
  const rssBefore = mb(process.memoryUsage().rss);
  const pool = new SamplerPool({ size: threads, backend: "auto", checkpointRoot: dir });
  try {
    await pool.ready();
    const version = { id: 1, name: "smol", checkpointUri: `file:${dir}`, checkpointSha256: await checkpointDigest(dir) };
    await pool.load(version);
    const loadedRss = mb(process.memoryUsage().rss);
    const loadedPeak = peakRssMb();
    const perThread = (ms: ThreadMemory[]) =>
      ms.map((m) => ({ tensor_mb: mb(m.tensorBytes), wasm_heap_mb: m.wasmHeapBytes === null ? null : mb(m.wasmHeapBytes) }));
    const threadsLoaded = perThread(await pool.memory());
    const ask = (i: number, maxNewTokens: number) =>
      pool.generate({
        versionId: 1,
        promptText: `prompt number ${i} asks for a story about the sea`,
        n: 2,
        temperature: 1,
        topK: 0,
        topP: 1,
        maxNewTokens,
        seed: i,
        exactLength: true,
      });
    await ask(0, 2);
    const t0 = performance.now();
    const out = await Promise.all(Array.from({ length: 16 }, (_, i) => ask(i + 1, 32)));
    const ms = performance.now() - t0;
    const tokens = out.flat().reduce((a, c) => a + c.tokenIds.length, 0);
    emit({
      ...base,
      what: "16 concurrent requests x 2 completions x 32 tokens",
      rss_start_mb: rssBefore,
      rss_loaded_mb: loadedRss,
      peak_rss_loaded_mb: loadedPeak,
      threads_loaded: threadsLoaded,
      threads_after: perThread(await pool.memory()),
      rss_after_mb: mb(process.memoryUsage().rss),
      peak_rss_mb: peakRssMb(),
      tokens,
      tokens_per_s: +(tokens / (ms / 1000)).toFixed(1),
      loadavg_1m: load1m(),
    });
  } finally {
    await pool.close();
  }
}

async function train(workers: number): Promise<void> {
  const backend = await initBackend();
  const rssStart = mb(process.memoryUsage().rss);
  const model = LlamaModel.create(llamaConfigFromHF(SMOL_CONFIG, "smollm2-135m-shape"), 1);
  const rand = makeRng(3);
  const { items, loss } = smolDpoStep(rand);
  const pool = workers > 0 ? await GradWorkerPool.create({ workers }) : null;
  const opt = new AdamW({ lr: 1e-5 });
  const rss: number[] = [];
  const times: number[] = [];
  // without workers, where in the step the peak is reached: peak RSS and the main thread's wasm
  // heap (which never shrinks) after the forward pass, the backward pass and the optimizer
  const phases: { phase: string; peak_rss_mb: number; wasm_heap_mb: number | null; js_arrays_mb: number }[] = [];
  const mark = (phase: string) =>
    phases.push({ phase, peak_rss_mb: peakRssMb(), wasm_heap_mb: wasmHeapMb(), js_arrays_mb: mb(process.memoryUsage().arrayBuffers) });
  try {
    // four steps: the wasm heap grows through the first two optimizer steps (each new parameter
    // is allocated before the old one is freed) and the peak settles from the third
    for (let i = 0; i < 4; i++) {
      const t0 = performance.now();
      let grads: Map<string, tf.Tensor>;
      if (pool) grads = (await pool.logprobGrads(model, items, loss)).grads;
      else {
        const pending = forwardWithGrad(model, items);
        mark(`step ${i + 1} forward`);
        grads = pending.backward(loss(pending.logps).dlogps);
        mark(`step ${i + 1} backward`);
      }
      opt.step(model, grads);
      disposeGrads(grads);
      if (!pool) mark(`step ${i + 1} optimizer`);
      times.push(Math.round(performance.now() - t0));
      rss.push(mb(process.memoryUsage().rss));
    }
  } finally {
    await pool?.close();
  }
  emit({
    bench: "memory_train_step",
    backend,
    workers,
    model: "SmolLM2-135M shape (random weights)",
    what: "DPO step: 8 pairs x (64+64) tokens, fwd+bwd+AdamW, 4 steps",
    rss_start_mb: rssStart,
    rss_after_step_mb: rss,
    peak_rss_mb: peakRssMb(),
    ...(pool ? {} : { phases }),
    runs_ms: times,
    tensors: tf.memory().numTensors,
    loadavg_1m: load1m(),
  });
  opt.dispose();
  model.dispose();
}

/** 20 rounds as the trainer runs them: each loads its base from the previous round's checkpoint. */
async function rounds(count: number): Promise<void> {
  const backend = await initBackend();
  const work = await mkdtemp(path.join(os.tmpdir(), "dpo-arena-bench-rounds-"));
  const perRound: { rss_mb: number; tensors: number; tensor_mb: number }[] = [];
  try {
    let baseDir = HOUSE_MODEL_DIR;
    const house = await loadCheckpoint(baseDir);
    const tok = house.tokenizer;
    house.model.dispose();
    for (let r = 0; r < count; r++) {
      const base = await loadCheckpoint(baseDir);
      const reference = await loadCheckpoint(HOUSE_MODEL_DIR);
      const result = await runRound({
        policy: base.model,
        reference: reference.model,
        pairs: markerPairs(tok, { n: 32, seed: 10 + r }),
        heldout: markerPairs(tok, { n: 16, seed: 1000 + r }),
        config: {
          beta: 0.1,
          lr: 1e-4,
          batchSize: 8,
          epochs: 1,
          seed: r,
          gates: { minHeldoutPairs: 1, klBudget: null, rootKlBudget: null },
        },
      });
      const dir = path.join(work, `r${r}`);
      await saveCheckpoint(result.model, tok, dir);
      result.model.dispose();
      base.model.dispose();
      reference.model.dispose();
      if (baseDir !== HOUSE_MODEL_DIR) await rm(baseDir, { recursive: true, force: true });
      baseDir = dir;
      const m = tf.memory();
      perRound.push({ rss_mb: mb(process.memoryUsage().rss), tensors: m.numTensors, tensor_mb: +(m.numBytes / 2 ** 20).toFixed(2) });
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const rss = perRound.map((p) => p.rss_mb);
  emit({
    bench: "memory_trainer_rounds",
    backend,
    model: "house",
    rounds: count,
    what: "load base + reference, runRound (32 pairs, 1 epoch), save, dispose; per round",
    rss_mb: rss,
    rss_growth_last_10_mb: rss[rss.length - 1] - rss[Math.min(9, rss.length - 1)],
    tensors: perRound.map((p) => p.tensors),
    tensor_mb: perRound.map((p) => p.tensor_mb),
    peak_rss_mb: peakRssMb(),
    loadavg_1m: load1m(),
  });
}

async function main() {
  const [mode, arg] = process.argv.slice(2);
  if (mode === "prepare") {
    await writeTinyHF(SMOL_DIR, { ...SMOL_CONFIG, eos_token_id: 258 }, { tokenizer: tinyTokenizerFiles() });
    return;
  }
  if (mode === "serve") return serve(Number(arg ?? 1));
  if (mode === "train") return train(Number(arg ?? 0));
  if (mode === "rounds") return rounds(Number(arg ?? 20));
  if (mode) throw new Error(`usage: tsx bench/memory.ts [serve N | train W | rounds R] (got ${mode})`);
  // every measurement in its own process
  const runs = [
    ["serve", "1"],
    ["serve", "2"],
    ["train", "0"],
    ["train", "1"],
    ["rounds", "20"],
  ];
  let failed = 0;
  for (const args of runs) {
    const r = spawnSync(process.execPath, [...process.execArgv, process.argv[1], ...args], { stdio: "inherit" });
    if (r.status !== 0) {
      console.error(`memory bench ${args.join(" ")} exited with ${r.status}`);
      failed++;
    }
  }
  if (failed) process.exit(1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
