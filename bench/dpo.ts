// DPO round throughput on the house-model shape (V=260, d=256, 4 layers, 4 heads; 64-token
// prompts + 64-token completions, 8 pairs per step), then the round's per-step cost against the
// bare training step it is built on (logprobGrads + AdamW, no loss, clipping or metrics).
// The comparison interleaves the two, one bare step after each round step, so that other load
// on a shared machine hits both alike. Prints JSON lines; asserts nothing.
//   npx tsx bench/dpo.ts [--pairs 256] [--compare-steps 6]

import { parseOrExit } from "../src/cli/args.ts";
import { type Pair, pairItems } from "../src/dpo/pairs.ts";
import { runRound } from "../src/dpo/round.ts";
import { AdamW, disposeGrads, GPT, type GPTConfig, initBackend, logprobGrads, makeRng } from "../src/lm/index.ts";

const { values } = parseOrExit({
  command: "npx tsx bench/dpo.ts",
  description: "DPO round throughput on the house-model shape, then the round's per-step cost against the bare step.",
  options: {
    pairs: { type: "number", integer: true, above: 0, default: 256, help: "pairs in the timed round" },
    "compare-steps": { type: "number", integer: true, above: 0, default: 6, help: "interleaved round/bare step pairs compared" },
  },
});

const HOUSE: GPTConfig = { vocabSize: 260, nPositions: 256, nEmbd: 256, nLayer: 4, nHead: 4, layerNormEpsilon: 1e-5 };
const PROMPT = 64;
const COMPLETION = 64;
const BATCH = 8;
const nPairs = values.pairs;
const compareSteps = values["compare-steps"];
const NO_GATES = { minHeldoutPairs: 1, klBudget: null, rootKlBudget: null };

const rand = makeRng(2026);
const ids = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 256));
const pool: Pair[] = Array.from({ length: Math.max(nPairs, (compareSteps + 1) * BATCH) }, () => ({
  promptIds: [256, ...ids(PROMPT - 1)],
  chosenIds: ids(COMPLETION),
  rejectedIds: ids(COMPLETION),
}));
const pairs = pool.slice(0, nPairs);
const tokensPerPair = 2 * (PROMPT + COMPLETION);
const emit = (o: Record<string, unknown>) => console.log(JSON.stringify({ bench: "dpo", ...o }));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const backend = await initBackend();
const policy = GPT.create(HOUSE, 1);

// 1. A full round: reference scoring once, one epoch of steps, end-of-round checks.
{
  const t0 = performance.now();
  const r = await runRound({ policy, pairs, config: { beta: 0.1, lr: 1e-5, batchSize: BATCH, epochs: 1, seed: 0, gates: NO_GATES } });
  const total = (performance.now() - t0) / 1000;
  const s = r.summary;
  emit({
    case: "round",
    backend,
    pairs: nPairs,
    steps: r.steps.length,
    tokens_per_pair: tokensPerPair,
    seconds_total: total,
    seconds_training: s.seconds,
    seconds_reference_and_checks: total - s.seconds,
    pairs_per_s: nPairs / total,
    tokens_per_s: (nPairs * tokensPerPair) / total,
    train_pairs_per_s: s.pairsPerSecond,
    train_tokens_per_s: s.tokensPerSecond,
    final_loss: s.last.loss,
  });
  r.model.dispose();
}

// 2. Round step vs bare step, interleaved B A B A … B: each round step (A) is compared with the
// mean of the bare steps (B) just before and after it, which cancels slow drifts in machine load.
{
  const bareModel = policy.clone();
  const opt = new AdamW({ lr: 1e-5, weightDecay: 0 });
  // Wall time, and this process's CPU time (the wasm backend is single-threaded), which other
  // processes on the machine disturb far less than wall time.
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  const bareSeconds: number[] = [];
  const bareCpu: number[] = [];
  const roundCpu: number[] = [];
  let lastExit = cpu();
  const bareStep = (batch: Pair[]) => {
    const t0 = performance.now();
    const c0 = cpu();
    const { grads } = logprobGrads(bareModel, pairItems(batch), (logps) => ({
      loss: 0,
      dlogps: new Float64Array(logps.length).fill(-1 / logps.length),
    }));
    opt.step(bareModel, grads);
    disposeGrads(grads);
    bareSeconds.push((performance.now() - t0) / 1000);
    bareCpu.push(cpu() - c0);
    lastExit = cpu();
  };
  const subset = pool.slice(0, (compareSteps + 1) * BATCH);
  bareStep(subset.slice(0, BATCH)); // warm-up of the fresh clone, not timed below
  bareSeconds.length = 0;
  bareCpu.length = 0;
  bareStep(subset.slice(0, BATCH));
  const r = await runRound({
    policy,
    pairs: subset,
    config: { beta: 0.1, lr: 1e-5, batchSize: BATCH, epochs: 1, seed: 0, gates: NO_GATES },
    // CPU time since the previous bare step ended = the round's whole step, loop included.
    onProgress: (s) => {
      roundCpu.push(cpu() - lastExit);
      bareStep(subset.slice(s.step * BATCH, (s.step + 1) * BATCH));
    },
  });
  // Round step 0 pays the same one-off warm-up, so it is left out; bareSeconds[i] ran just before
  // round step i and bareSeconds[i + 1] just after it.
  const ratios = r.steps.slice(1).map((s) => s.seconds / ((bareSeconds[s.step] + bareSeconds[s.step + 1]) / 2));
  const cpuRatios = r.steps.slice(1).map((s) => roundCpu[s.step] / ((bareCpu[s.step] + bareCpu[s.step + 1]) / 2));
  const roundStep = median(r.steps.slice(1).map((s) => s.seconds));
  const bare = median(bareSeconds.slice(1));
  const tokensPerStep = BATCH * tokensPerPair;
  emit({
    case: "step_overhead",
    backend,
    steps_compared: ratios.length,
    round_step_seconds_median: roundStep,
    bare_step_seconds_median: bare,
    round_step_tokens_per_s: tokensPerStep / roundStep,
    bare_step_tokens_per_s: tokensPerStep / bare,
    overhead_pct: 100 * (median(ratios) - 1),
    overhead_pct_per_step: ratios.map((x) => Math.round(1000 * (x - 1)) / 10),
    round_step_cpu_seconds_median: median(roundCpu.slice(1)),
    bare_step_cpu_seconds_median: median(bareCpu.slice(1)),
    overhead_cpu_pct: 100 * (median(cpuRatios) - 1),
    overhead_cpu_pct_per_step: cpuRatios.map((x) => Math.round(1000 * (x - 1)) / 10),
  });
  r.model.dispose();
  opt.dispose();
  bareModel.dispose();
}
policy.dispose();
