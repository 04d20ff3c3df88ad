// `npm run bench -- gemm`: the native GEMM (native/gemm, src/lm/native.ts) against the wasm
// backend's own BatchMatMul on the shapes of a DPO training step (V=260, d=256, 4 layers, 4
// heads, 16 rows × 128 tokens), then the training step itself with the native GEMM on and off,
// on one thread and with a data-parallel worker thread. Prints JSON lines; never asserts timings.
//
//   npx tsx bench/gemm.ts                # everything
//   npx tsx bench/gemm.ts --shapes       # only the per-shape GEMMs (< 1 min)
//   npx tsx bench/gemm.ts --steps        # only the training steps, native on/off
//     --step-runs N (timed steps per run, default 5) --rounds R (on/off pairs, default 2)
//     --single-thread (skip the 2-thread data-parallel step)
//   npx tsx bench/gemm.ts --train on|off # (internal) one training-step run, in this process
import { spawnSync } from "node:child_process";
import { loadavg } from "node:os";
import * as tf from "@tensorflow/tfjs-core";
import { parseOrExit } from "../src/cli/args.ts";
import { AdamW, disposeGrads, GradWorkerPool, initBackend, logprobGrads } from "../src/lm/index.ts";
import { makeRng } from "../src/lm/model.ts";
import { enableNativeGemm, loadNativeGemm, setNativeGemmActive } from "../src/lm/native.ts";
import { dpoStep } from "./dpo-step.ts";

const emit = (o: Record<string, unknown>) => console.log(JSON.stringify(o));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** [label, batch, m, k, n, transposeA, transposeB]: the matMuls of a training step at this shape. */
const SHAPES: [string, number, number, number, number, boolean, boolean][] = [
  ["qkv forward X·W (2048,256)@(256,768)", 1, 2048, 256, 768, false, false],
  ["mlp up forward (2048,256)@(256,1024)", 1, 2048, 256, 1024, false, false],
  ["mlp down forward (2048,1024)@(1024,256)", 1, 2048, 1024, 256, false, false],
  ["qkv dW = Xᵀ·dY", 1, 256, 2048, 768, true, false],
  ["qkv dX = dY·Wᵀ", 1, 2048, 768, 256, false, true],
  ["mlp up dW = Xᵀ·dY", 1, 256, 2048, 1024, true, false],
  ["mlp up dX = dY·Wᵀ", 1, 2048, 1024, 256, false, true],
  ["mlp down dW = Xᵀ·dY", 1, 1024, 2048, 256, true, false],
  ["mlp down dX = dY·Wᵀ", 1, 2048, 256, 1024, false, true],
  ["attention scores Q·Kᵀ, 64×4 heads", 256, 128, 64, 128, false, true],
  ["attention scores Q·Kᵀ (K pre-transposed)", 256, 128, 64, 128, false, false],
  ["attention P·V, 64×4 heads", 256, 128, 128, 64, false, false],
  ["sampling step (2 rows)", 1, 2, 256, 1024, false, false],
];

interface Timing {
  /** fastest wall-clock run */
  ms: number;
  /** fastest run in CPU time of this process: on a loaded machine, time spent descheduled is
   *  not counted, so this is the better measure of the work itself (one thread here) */
  cpuMs: number;
  runs: number;
}

const cpuNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/**
 * Times two variants of the same work, interleaved run by run so both see the same load from
 * the other processes on this shared machine, and keeps each one's fastest run (the median
 * mostly measures that load). After one warm-up each, runs for ~2 s (at most 50 pairs, at
 * least 2); a warm-up slower than 0.3 s counts as a run (no warm-up effect is that large).
 */
function bestOfInterleaved(x: () => void, y: () => void): [Timing, Timing] {
  const tx: [number, number][] = [],
    ty: [number, number][] = [];
  const once = (f: () => void, into: [number, number][], warm = false) => {
    const t = performance.now(),
      c = cpuNow();
    f();
    const ms = performance.now() - t,
      cpuMs = cpuNow() - c;
    if (!warm || ms > 300) into.push([ms, cpuMs]);
  };
  once(x, tx, true);
  once(y, ty, true);
  const start = performance.now();
  while (tx.length < 2 || ty.length < 2 || (performance.now() - start < 2000 && tx.length < 50)) {
    once(x, tx);
    once(y, ty);
  }
  const best = (t: [number, number][]): Timing => ({
    ms: Math.min(...t.map((r) => r[0])),
    cpuMs: Math.min(...t.map((r) => r[1])),
    runs: t.length,
  });
  return [best(tx), best(ty)];
}

function shapeBench(kernel: string) {
  const rand = makeRng(1);
  for (const [label, batch, m, k, n, ta, tb] of SHAPES) {
    const outer = batch > 1 ? [batch] : [];
    const a = tf.tensor(
      Float32Array.from({ length: batch * m * k }, () => rand() - 0.5),
      [...outer, ...(ta ? [k, m] : [m, k])],
    );
    const b = tf.tensor(
      Float32Array.from({ length: batch * k * n }, () => rand() - 0.5),
      [...outer, ...(tb ? [n, k] : [k, n])],
    );
    // the wasm backend runs a kernel when it is called, so no read-back is needed; reading
    // the result out of the wasm heap (dataSync) would add a copy as long as the GEMM itself
    const run = (native: boolean) => () => {
      setNativeGemmActive(native);
      tf.matMul(a, b, ta, tb).dispose();
    };
    const [nat, wasm] = bestOfInterleaved(run(true), run(false));
    setNativeGemmActive(true);
    const flop = 2 * batch * m * n * k;
    emit({
      bench: "gemm",
      shape: label,
      batch,
      m,
      k,
      n,
      transpose_a: ta,
      transpose_b: tb,
      kernel,
      native_gflops: +(flop / nat.ms / 1e6).toFixed(2),
      wasm_gflops: +(flop / wasm.ms / 1e6).toFixed(2),
      speedup: +(wasm.ms / nat.ms).toFixed(2),
      native_ms: +nat.ms.toFixed(3),
      wasm_ms: +wasm.ms.toFixed(3),
      runs: [nat.runs, wasm.runs],
      // from CPU time (1 ms resolution-ish for the smallest shapes): what the cores did, whatever the load
      native_gflops_cpu: +(flop / Math.max(nat.cpuMs, 1e-3) / 1e6).toFixed(2),
      wasm_gflops_cpu: +(flop / Math.max(wasm.cpuMs, 1e-3) / 1e6).toFixed(2),
      loadavg_1m: +loadavg()[0].toFixed(2),
    });
    a.dispose();
    b.dispose();
  }
}

/** The DPO-shaped training step of bench/lm.ts: 8 pairs × (64 + 64) tokens, fwd+bwd+AdamW. */
const { values: args } = parseOrExit({
  command: "npx tsx bench/gemm.ts",
  description: "The native GEMM against XNNPACK on the model's matMul shapes, then the DPO-shaped training step with it on and off.",
  options: {
    shapes: { type: "boolean", help: "only the matMul shapes" },
    steps: { type: "boolean", help: "only the training steps" },
    "all-kernels": { type: "boolean", help: "every micro-kernel this CPU supports, not just the one chosen at run time" },
    rounds: { type: "number", integer: true, above: 0, default: 2, help: "on/off training-step pairs, alternated" },
    "step-runs": { type: "number", integer: true, above: 0, default: 5, help: "timed steps per measurement" },
    "single-thread": { type: "boolean", help: "skip the two-thread (data-parallel) step" },
    train: { type: "string", choices: ["on", "off"], help: "(internal) one training-step measurement with the native GEMM on or off" },
  },
});

async function trainBench(native: boolean) {
  const stepRuns = args["step-runs"];
  const backend = await initBackend();
  const status = enableNativeGemm(backend);
  const { model, items, dpoLoss, tokens } = dpoStep();
  const opt = new AdamW({ lr: 1e-5 });
  const common = {
    native_gemm: native && status.enabled,
    kernel: native && status.enabled ? status.kernel : "xnnpack",
    loadavg_1m: +loadavg()[0].toFixed(2),
  };

  const single = () => {
    const { grads } = logprobGrads(model, items, dpoLoss);
    opt.step(model, grads);
    disposeGrads(grads);
  };
  single();
  const times: number[] = [],
    cpu: number[] = [];
  for (let i = 0; i < stepRuns; i++) {
    const t0 = performance.now(),
      c0 = cpuNow();
    single();
    times.push(performance.now() - t0);
    cpu.push(cpuNow() - c0);
  }
  const ms = median(times),
    cpuMs = median(cpu);
  emit({
    bench: "gemm_train_step",
    threads: 1,
    ...common,
    step_ms: +ms.toFixed(1),
    runs_ms: times.map(Math.round),
    tokens_per_s: Math.round(tokens / (ms / 1000)),
    // CPU time of the process per step (one thread does all the work here): unaffected by time spent descheduled
    cpu_step_ms: +cpuMs.toFixed(1),
    tokens_per_cpu_s: Math.round(tokens / (cpuMs / 1000)),
    pytorch_reference_tokens_per_s: 5000,
  });

  if (args["single-thread"]) {
    opt.dispose();
    model.dispose();
    return;
  }
  const pool = await GradWorkerPool.create({ workers: 1 });
  const parallel = async () => {
    const { grads } = await pool.logprobGrads(model, items, dpoLoss);
    opt.step(model, grads);
    disposeGrads(grads);
  };
  await parallel();
  const ptimes: number[] = [];
  for (let i = 0; i < stepRuns; i++) {
    const t0 = performance.now();
    await parallel();
    ptimes.push(performance.now() - t0);
  }
  await pool.close();
  const pms = median(ptimes);
  emit({
    bench: "gemm_train_step",
    threads: 2,
    ...common,
    step_ms: +pms.toFixed(1),
    runs_ms: ptimes.map(Math.round),
    tokens_per_s: Math.round(tokens / (pms / 1000)),
    pytorch_reference_tokens_per_s: 5000,
  });
  opt.dispose();
  model.dispose();
}

async function main() {
  if (args.train !== undefined) return trainBench(args.train === "on");

  const gemm = loadNativeGemm();
  const backend = await initBackend("wasm");
  const status = enableNativeGemm(backend);
  if (!status.enabled) {
    emit({ bench: "gemm", skipped: true, reason: status.reason });
    return;
  }
  const shapes = !args.steps,
    steps = !args.shapes;
  for (const kernel of (shapes ? gemm!.kernels() : []).filter((k) => k !== "portable" || args["all-kernels"])) {
    gemm!.setKernel(kernel);
    shapeBench(kernel);
    if (!args["all-kernels"]) break;
  }
  // the training step in fresh processes (worker threads read DPO_ARENA_NATIVE_GEMM
  // themselves), on and off alternately, --rounds times, so both see similar load
  const rounds = args.rounds;
  for (const on of steps ? Array.from({ length: 2 * rounds }, (_, i) => i % 2 === 0) : []) {
    const env = { ...process.env, DPO_ARENA_NATIVE_GEMM: on ? "1" : "0" };
    const r = spawnSync(
      "npx",
      [
        "tsx",
        "bench/gemm.ts",
        "--train",
        on ? "on" : "off",
        "--step-runs",
        String(args["step-runs"]),
        ...(args["single-thread"] ? ["--single-thread"] : []),
      ],
      { stdio: ["ignore", "inherit", "inherit"], env },
    );
    if (r.status !== 0) throw new Error(`training-step bench (native ${on ? "on" : "off"}) exited with ${r.status}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
