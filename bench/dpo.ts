// DPO round throughput on the house-model shape, against the bare training step it is built
// on (logprobGrads + clipping-free AdamW on the same batches). Prints JSON lines; asserts nothing.
//   npx tsx bench/dpo.ts [--pairs 256] [--bare-steps 6]
import { AdamW, disposeGrads, GPT, initBackend, logprobGrads, type GPTConfig } from "../src/lm/index.ts";
import { pairItems, type Pair } from "../src/dpo/pairs.ts";
import { runRound } from "../src/dpo/round.ts";
import { mulberry32 } from "../src/dpo/testdata.ts";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} expects a positive integer, got "${process.argv[i + 1]}"`);
  return v;
}

const HOUSE: GPTConfig = { vocabSize: 260, nPositions: 256, nEmbd: 256, nLayer: 4, nHead: 4, layerNormEpsilon: 1e-5 };
const PROMPT = 64;
const COMPLETION = 64;
const BATCH = 8;
const nPairs = arg("pairs", 256);
const bareSteps = arg("bare-steps", 6);

const rand = mulberry32(2026);
const ids = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 256));
const pairs: Pair[] = Array.from({ length: nPairs }, () => ({ promptIds: [256, ...ids(PROMPT - 1)], chosenIds: ids(COMPLETION), rejectedIds: ids(COMPLETION) }));
const tokensPerPair = 2 * (PROMPT + COMPLETION);
const emit = (o: Record<string, unknown>) => console.log(JSON.stringify({ bench: "dpo", ...o }));

const backend = await initBackend();
const policy = GPT.create(HOUSE, 1);

/** Bare step: the model's own forward/backward and optimizer, with a constant dLoss/dlogp. */
function bareThroughput(): number {
  const model = policy.clone();
  const opt = new AdamW({ lr: 1e-5, weightDecay: 0 });
  const step = (batch: Pair[]) => {
    const { grads } = logprobGrads(model, pairItems(batch), (logps) => ({ loss: 0, dlogps: new Float64Array(logps.length).fill(-1 / logps.length) }));
    opt.step(model, grads);
    disposeGrads(grads);
  };
  step(pairs.slice(0, BATCH)); // warm-up: kernel setup and transposed-weight caches
  const t0 = performance.now();
  for (let s = 0; s < bareSteps; s++) step(pairs.slice(((s + 1) * BATCH) % nPairs, ((s + 1) * BATCH) % nPairs + BATCH));
  const seconds = (performance.now() - t0) / 1000;
  emit({
    case: "bare_step",
    backend,
    steps: bareSteps,
    batch_pairs: BATCH,
    seconds_per_step: seconds / bareSteps,
    pairs_per_s: (bareSteps * BATCH) / seconds,
    tokens_per_s: (bareSteps * BATCH * tokensPerPair) / seconds,
  });
  opt.dispose();
  model.dispose();
  return (bareSteps * BATCH * tokensPerPair) / seconds;
}
const bareTokensPerSecond = bareThroughput();

{
  const t0 = performance.now();
  const r = await runRound({
    policy,
    pairs,
    config: { beta: 0.1, lr: 1e-5, batchSize: BATCH, epochs: 1, seed: 0, gates: { minHeldoutAccuracy: null, maxHeldoutLoss: null, klBudget: null } },
  });
  const total = (performance.now() - t0) / 1000;
  const train = r.summary;
  // The first step pays one-off setup in the clone (transposed-weight caches), like the bare warm-up.
  const steady = r.steps.slice(1);
  const steadySeconds = steady.reduce((s, m) => s + m.seconds, 0);
  const steadyTokens = steady.reduce((s, m) => s + m.tokens, 0);
  const roundTokensPerSecond = steadyTokens / steadySeconds;
  emit({
    case: "round",
    backend,
    pairs: nPairs,
    steps: r.steps.length,
    seconds_total: total,
    seconds_training: train.seconds,
    seconds_reference_and_eval: total - train.seconds,
    pairs_per_s: nPairs / total,
    tokens_per_s: (nPairs * tokensPerPair) / total,
    train_pairs_per_s: train.pairsPerSecond,
    train_tokens_per_s: train.tokensPerSecond,
    steady_step_tokens_per_s: roundTokensPerSecond,
    final_loss: train.last.loss,
  });
  emit({
    case: "overhead",
    step_tokens_per_s: roundTokensPerSecond,
    bare_tokens_per_s: bareTokensPerSecond,
    overhead_pct: 100 * (bareTokensPerSecond / roundTokensPerSecond - 1),
  });
  r.model.dispose();
}
policy.dispose();
