// `npm run bench -- lm`: language-model core speed on the shape (V=260, d=256, 4 layers,
// 4 heads, ctx 256). Prints JSON lines; never asserts timings. Each figure is reported with its
// ratio to the 2-D NN matMul roofline measured in this same run, on this same backend.
import { spawnSync } from "node:child_process";
import * as tf from "@tensorflow/tfjs-core";
import {
  AdamW,
  byteTokenizer,
  disposeGrads,
  encodePrompt,
  GradWorkerPool,
  initBackend,
  logprobGrads,
  SampleBatcher,
  sample,
} from "../src/lm/index.ts";
import type { SampledCompletion, SampleOptions } from "../src/lm/sample.ts";
import { attentionKernel } from "../src/lm/simd-kernel.ts";
import { DPO_STEP_CONFIG, dpoStep } from "./dpo-step.ts";

const emit = (o: Record<string, unknown>) => console.log(JSON.stringify(o));
/** This process's resident set now and its peak so far, in MB: which phase sets the peak. */
const rssNow = () => ({
  rss_mb: Math.round(process.memoryUsage().rss / 2 ** 20),
  peak_rss_so_far_mb: Math.round(process.resourceUsage().maxRSS / 1024),
});

/** The interpreter that can `import torch` (Debian's python3-torch installs for the system
 *  python3, which a pyenv `python3` on PATH hides), or null. */
function torchPython(): string | null {
  return (
    ["/usr/bin/python3", "python3"].find((py) => spawnSync(py, ["bench/lm_smol_torch.py", "--check"], { encoding: "utf8" }).status === 0) ??
    null
  );
}

/** Tokens/s of bench/lm_torch.py's PyTorch peer for `mode`, measured now; null without torch. */
function pytorchTokensPerS(python: string | null, mode: "train" | "sample"): number | null {
  if (!python) return null;
  const p = spawnSync(python, ["bench/lm_torch.py", mode], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  const line = p.stdout
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .at(-1);
  const v = line ? (JSON.parse(line) as { tokens_per_s?: number }).tokens_per_s : undefined;
  return typeof v === "number" ? v : null;
}

const ratio = (ours: number, theirs: number | null) => (theirs ? +(ours / theirs).toFixed(2) : null);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function matmulRoofline(): number {
  // the shape that dominates a training step: (B·T, d) @ (d, 4d)
  const a = tf.randomNormal([2048, 256]) as tf.Tensor2D,
    b = tf.randomNormal([256, 1024]) as tf.Tensor2D;
  const times: number[] = [];
  for (let i = 0; i < 12; i++) {
    const t0 = performance.now();
    const c = tf.matMul(a, b);
    c.dataSync();
    times.push(performance.now() - t0);
    c.dispose();
  }
  a.dispose();
  b.dispose();
  // the fastest run: on a shared machine the median mostly measures other processes' load
  return (2 * 2048 * 256 * 1024) / (Math.min(...times.slice(2)) / 1000) / 1e9;
}

async function main() {
  const backend = await initBackend();
  const python = torchPython();
  const load = (await import("node:os")).loadavg()[0];
  const gflops = matmulRoofline();
  emit({ bench: "matmul_roofline", backend, shape: [2048, 256, 1024], gflops: +gflops.toFixed(2), loadavg_1m: +load.toFixed(2) });

  const cfg = DPO_STEP_CONFIG;
  const { model, items, dpoLoss, tokens } = dpoStep();
  const opt = new AdamW({ lr: 1e-5 });
  const stepOnce = () => {
    const { grads } = logprobGrads(model, items, dpoLoss);
    opt.step(model, grads);
    disposeGrads(grads);
  };
  stepOnce();
  const times: number[] = [];
  for (let i = 0; i < 4; i++) {
    const t0 = performance.now();
    stepOnce();
    times.push(performance.now() - t0);
  }
  const stepMs = median(times);
  // PyTorch (1 thread, its best here) on the same step, right after ours so both see the same load
  const pyTrain = pytorchTokensPerS(python, "train");
  // forward+backward ≈ 3× forward FLOPs: 2·params per token for the linear layers, plus attention.
  // Counted for the unshared batch, so rows saved by prompt sharing show up as effective GFLOP/s.
  const flops = 3 * (2 * model.numParams() * tokens + cfg.nLayer * 4 * items.length * 128 * 128 * cfg.nEmbd);
  emit({
    bench: "train_step",
    shape: "V=260 d=256 L=4 H=4, 8 pairs x (64+64) tokens, fwd+bwd+AdamW",
    step_ms: +stepMs.toFixed(1),
    runs_ms: times.map(Math.round),
    tokens_per_s: Math.round(tokens / (stepMs / 1000)),
    effective_gflops: +(flops / (stepMs / 1000) / 1e9).toFixed(2),
    roofline_ratio: +(flops / (stepMs / 1000) / 1e9 / gflops).toFixed(3),
    pytorch_tokens_per_s: pyTrain,
    ratio_vs_pytorch: ratio(tokens / (stepMs / 1000), pyTrain),
    ...rssNow(),
  });

  // data-parallel: the main thread plus one worker thread, each with its own wasm backend
  const pool = await GradWorkerPool.create({ workers: 1 });
  const stepParallel = async () => {
    const { grads } = await pool.logprobGrads(model, items, dpoLoss);
    opt.step(model, grads);
    disposeGrads(grads);
  };
  await stepParallel();
  const ptimes: number[] = [];
  for (let i = 0; i < 4; i++) {
    const t0 = performance.now();
    await stepParallel();
    ptimes.push(performance.now() - t0);
  }
  const rssWithWorker = rssNow();
  await pool.close();
  const pMs = median(ptimes);
  emit({
    bench: "train_step_parallel",
    threads: 2,
    step_ms: +pMs.toFixed(1),
    runs_ms: ptimes.map(Math.round),
    tokens_per_s: Math.round(tokens / (pMs / 1000)),
    speedup_vs_single: +(stepMs / pMs).toFixed(2),
    pytorch_tokens_per_s: pyTrain,
    ratio_vs_pytorch: ratio(tokens / (pMs / 1000), pyTrain),
    roofline_ratio_per_thread: +(flops / (pMs / 1000) / 1e9 / gflops / 2).toFixed(3),
    // measured before the pool closed: the worker's own wasm heap is part of this process
    ...rssWithWorker,
  });

  const tok = byteTokenizer();
  const promptIds = encodePrompt(tok, "The quick brown fox jumps over the lazy dog. It was the best of times, ");
  await sample(model, tok, { promptIds, n: 2, temperature: 1, maxNewTokens: 8, seed: 0 });
  const st: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await sample(model, tok, { promptIds, n: 2, temperature: 1, maxNewTokens: 64, seed: i });
    st.push(performance.now() - t0);
  }
  const sMs = median(st);
  const pySample = pytorchTokensPerS(python, "sample");
  const sFlops = 2 * 2 * model.numParams() * 64;
  emit({
    bench: "sample",
    shape: "2 completions x 64 tokens, KV cache",
    ms: +sMs.toFixed(1),
    tokens_per_s: Math.round(128 / (sMs / 1000)),
    roofline_ratio: +(sFlops / (sMs / 1000) / 1e9 / gflops).toFixed(4),
    pytorch_tokens_per_s: pySample,
    ratio_vs_pytorch: ratio(128 / (sMs / 1000), pySample),
    attention: attentionKernel(),
    ...rssNow(),
  });

  // 16 labelers' requests arriving together (n=2, 64 new tokens, different prompts), as a sampler
  // thread sees them: plain sample() calls interleaving step by step vs one SampleBatcher.
  const base = "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness, ";
  const reqs: SampleOptions[] = Array.from({ length: 16 }, (_, i) => ({
    promptIds: encodePrompt(tok, `${i}. ${base.slice(0, 16 + 6 * i)}`),
    n: 2,
    temperature: 1,
    maxNewTokens: 64,
    seed: 1000 + i,
  }));
  const generated = (rs: SampledCompletion[][]) => rs.flat().reduce((a, r) => a + r.ids.length, 0);
  const runPlain = () => Promise.all(reqs.map((o) => sample(model, tok, o)));
  const batcher = new SampleBatcher();
  const runBatched = () => Promise.all(reqs.map((o) => batcher.sample(model, tok, o)));
  await runBatched();
  const plainMs: number[] = [],
    batchedMs: number[] = [];
  let plainOut: SampledCompletion[][] = [],
    batchedOut: SampledCompletion[][] = [],
    passes = 0;
  for (let i = 0; i < 3; i++) {
    let t0 = performance.now();
    plainOut = await runPlain();
    plainMs.push(performance.now() - t0);
    const stepsBefore = batcher.stats.steps;
    t0 = performance.now();
    batchedOut = await runBatched();
    batchedMs.push(performance.now() - t0);
    passes = batcher.stats.steps - stepsBefore;
  }
  await batcher.close();
  const tokensGenerated = generated(batchedOut);
  const plainMedian = median(plainMs),
    batchedMedian = median(batchedMs);
  emit({
    bench: "sample_concurrent",
    shape: "16 requests x 2 completions x 64 tokens, different prompts",
    tokens: tokensGenerated,
    plain_tokens_per_s: Math.round(generated(plainOut) / (plainMedian / 1000)),
    batched_tokens_per_s: Math.round(tokensGenerated / (batchedMedian / 1000)),
    speedup: +(plainMedian / batchedMedian).toFixed(2),
    plain_runs_ms: plainMs.map(Math.round),
    batched_runs_ms: batchedMs.map(Math.round),
    batched_forward_passes: passes,
    loadavg_1m: +(await import("node:os")).loadavg()[0].toFixed(2),
    same_ids: JSON.stringify(plainOut.map((r) => r.map((c) => c.ids))) === JSON.stringify(batchedOut.map((r) => r.map((c) => c.ids))),
  });
  emit({ bench: "peak_rss_mb", value: Math.round(process.resourceUsage().maxRSS / 1024), tensors: tf.memory().numTensors });
  opt.dispose();
  model.dispose();
  smolBenchmarks(python);
}

/** The SmolLM2-135M-shape figures (issue 14), each in its own process so its peak RSS is its own, with PyTorch's next to them. */
function smolBenchmarks(python: string | null): void {
  const haveTorch = python !== null;
  for (const mode of ["sample", "concurrent", "train"]) {
    const r = spawnSync("npx", ["tsx", "bench/lm-smol.ts", mode], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    const line = r.stdout
      .trim()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .at(-1);
    const ours = line ? JSON.parse(line) : { bench: `smol_${mode}`, error: `exited with ${r.status}` };
    let pytorch: unknown = null;
    if (haveTorch) {
      const p = spawnSync(python!, ["bench/lm_smol_torch.py", mode], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
      const pl = p.stdout
        .trim()
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .at(-1);
      pytorch = pl ? JSON.parse(pl) : { error: `exited with ${p.status}` };
    }
    emit({ ...ours, pytorch });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
