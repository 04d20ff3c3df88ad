// Training and evaluation metrics under TRL's names, so a run here reads like a TRL DPO run:
//   rewards/chosen, rewards/rejected  mean β·(log π − log π_ref) of the chosen / rejected
//   rewards/accuracies                fraction of pairs with chosen reward STRICTLY above the
//                                     rejected one (0 at step 0, where both rewards are 0)
//   rewards/margins                   mean (chosen reward − rejected reward)
//   logps/chosen, logps/rejected      mean summed completion log-probs under the policy
// Step metrics are measured in the step's forward pass, i.e. before its parameter update.
import { logSigmoid } from "./losses.ts";

export const METRIC_NAMES = [
  "loss",
  "rewards/chosen",
  "rewards/rejected",
  "rewards/accuracies",
  "rewards/margins",
  "logps/chosen",
  "logps/rejected",
  "grad_norm",
  "learning_rate",
] as const;
export type MetricName = (typeof METRIC_NAMES)[number];
export type MetricRecord = Record<MetricName, number>;

export interface StepMetrics extends MetricRecord {
  step: number;
  epoch: number;
  /** Pairs and tokens (prompt + both completions) in this step's batch. */
  pairs: number;
  tokens: number;
  /** Wall-clock seconds of the step (forward, backward, optimizer). */
  seconds: number;
}

const mean = (xs: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return xs.length ? s / xs.length : NaN;
};

/** The TRL reward/logp metrics of one batch (everything but loss, grad_norm, learning_rate). */
export function batchRewardMetrics(
  chosenRewards: ArrayLike<number>,
  rejectedRewards: ArrayLike<number>,
  policyChosen: ArrayLike<number>,
  policyRejected: ArrayLike<number>,
): Pick<
  MetricRecord,
  "rewards/chosen" | "rewards/rejected" | "rewards/accuracies" | "rewards/margins" | "logps/chosen" | "logps/rejected"
> {
  const n = chosenRewards.length;
  let correct = 0;
  let margin = 0;
  for (let i = 0; i < n; i++) {
    if (chosenRewards[i] > rejectedRewards[i]) correct++;
    margin += chosenRewards[i] - rejectedRewards[i];
  }
  return {
    "rewards/chosen": mean(chosenRewards),
    "rewards/rejected": mean(rejectedRewards),
    "rewards/accuracies": n ? correct / n : NaN,
    "rewards/margins": n ? margin / n : NaN,
    "logps/chosen": mean(policyChosen),
    "logps/rejected": mean(policyRejected),
  };
}

export interface RoundSummary {
  steps: number;
  pairs: number;
  tokens: number;
  seconds: number;
  pairsPerSecond: number;
  tokensPerSecond: number;
  /** Pair-weighted mean of each metric over all steps of the round. */
  mean: MetricRecord;
  /** Metrics of the first and last step (the first is the untrained policy). */
  first: MetricRecord;
  last: MetricRecord;
}

function pick(s: StepMetrics): MetricRecord {
  return Object.fromEntries(METRIC_NAMES.map((k) => [k, s[k]])) as MetricRecord;
}

export function summarizeSteps(steps: readonly StepMetrics[]): RoundSummary {
  if (steps.length === 0) throw new Error("summarizeSteps: a round with no steps has nothing to summarise");
  const pairs = steps.reduce((s, m) => s + m.pairs, 0);
  const tokens = steps.reduce((s, m) => s + m.tokens, 0);
  const seconds = steps.reduce((s, m) => s + m.seconds, 0);
  const weighted = Object.fromEntries(METRIC_NAMES.map((k) => [k, steps.reduce((s, m) => s + m[k] * m.pairs, 0) / pairs])) as MetricRecord;
  return {
    steps: steps.length,
    pairs,
    tokens,
    seconds,
    pairsPerSecond: pairs / seconds,
    tokensPerSecond: tokens / seconds,
    mean: weighted,
    first: pick(steps[0]),
    last: pick(steps[steps.length - 1]),
  };
}

export interface PreferenceEval {
  n: number;
  /** Fraction of pairs whose implicit reward prefers the chosen completion (strict >). */
  accuracy: number;
  /** Mean sigmoid DPO loss −log σ(β·Δ): log 2 for an untrained policy, whatever lossType trained it. */
  loss: number;
  /** Mean reward margin β·Δ, and mean raw policy log-prob margin log π(y_w) − log π(y_l). */
  rewardMargin: number;
  logpMargin: number;
  /** Fraction of pairs where the policy alone gives the chosen completion the higher log-prob. */
  logpAccuracy: number;
  /** Per-pair sigmoid losses and cluster keys (prompts), for the paired improvement test. */
  losses: number[];
  clusters: (string | number)[];
}

/**
 * Held-out evaluation from summed log-probs (pure: the caller scores the pairs). `clusters`
 * names each pair's prompt (by default every pair is its own).
 */
export function evaluatePreferences(
  logps: {
    policyChosen: ArrayLike<number>;
    policyRejected: ArrayLike<number>;
    refChosen: ArrayLike<number>;
    refRejected: ArrayLike<number>;
  },
  beta: number,
  clusters?: readonly (string | number)[],
): PreferenceEval {
  const n = logps.policyChosen.length;
  if (n === 0) throw new Error("evaluatePreferences: no pairs to evaluate");
  if (clusters && clusters.length !== n) throw new Error(`evaluatePreferences: ${n} pairs but ${clusters.length} cluster keys`);
  let correct = 0;
  let rewardMargin = 0;
  let logpMargin = 0;
  let logpCorrect = 0;
  const losses: number[] = [];
  for (let i = 0; i < n; i++) {
    const rw = beta * (logps.policyChosen[i] - logps.refChosen[i]);
    const rl = beta * (logps.policyRejected[i] - logps.refRejected[i]);
    if (rw > rl) correct++;
    losses.push(-logSigmoid(rw - rl));
    rewardMargin += rw - rl;
    logpMargin += logps.policyChosen[i] - logps.policyRejected[i];
    if (logps.policyChosen[i] > logps.policyRejected[i]) logpCorrect++;
  }
  return {
    n,
    accuracy: correct / n,
    loss: mean(losses),
    rewardMargin: rewardMargin / n,
    logpMargin: logpMargin / n,
    logpAccuracy: logpCorrect / n,
    losses,
    clusters: clusters ? [...clusters] : losses.map((_, i) => i),
  };
}

/** The evaluation without its per-pair arrays, for storing with a round. */
export function evalSummary(e: PreferenceEval | null) {
  if (!e) return null;
  const { losses: _l, clusters, ...rest } = e;
  return { ...rest, prompts: new Set(clusters).size };
}

/**
 * Plain Monte Carlo KL from summed log-probs of y ~ π_θ: mean of log π_θ(y) − log π_ref(y),
 * samples treated as independent. The gates use kl.ts (exact per token, clustered by prompt);
 * this stays for callers that only have summed log-probs (the sim's reports).
 */
export function estimateKL(policyLogps: ArrayLike<number>, refLogps: ArrayLike<number>): { kl: number; stderr: number; n: number } {
  const n = policyLogps.length;
  if (n === 0 || refLogps.length !== n) {
    throw new Error(`estimateKL: need equally many policy and reference log-probs (got ${n} and ${refLogps.length})`);
  }
  const d = Array.from({ length: n }, (_, i) => policyLogps[i] - refLogps[i]);
  const m = mean(d);
  const variance = n > 1 ? d.reduce((s, x) => s + (x - m) ** 2, 0) / (n - 1) : NaN;
  return { kl: m, stderr: Math.sqrt(variance / n), n };
}
