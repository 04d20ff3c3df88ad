// One DPO round: copy the policy, train the copy on preference pairs against a frozen
// reference, then evaluate it (held-out pairs, sampled KL) and apply the promotion gates.
//
// The loss lives in losses.ts as a function of summed log-probs; logprobGrads runs the model
// forward over chosen+rejected of a batch in ONE pass and backpropagates our dLoss/dlogp.
// Reference log-probs are computed once per pair before training (or supplied by the caller,
// e.g. cached in the database per completion and reference version) and reused every epoch.
import { AdamW, clipGradNorm, disposeGrads, logprobGrads, makeRng, type GPT } from "../lm/index.ts";
import { learningRateAt, resolveDpoConfig, type DpoConfig, type DpoConfigInput } from "./config.ts";
import { evaluateGates, allGatesPassed, type GateResult } from "./gates.ts";
import { preferenceLoss } from "./losses.ts";
import { batchRewardMetrics, evaluatePreferences, summarizeSteps, type KLEstimate, type PreferenceEval, type RoundSummary, type StepMetrics } from "./metrics.ts";
import { pairItems, sampledKL, scorePairs, validateLogps, validatePairs, type KLPrompts, type Pair, type PairLogps } from "./pairs.ts";

export interface RoundInput {
  /** The policy to start from; it is never modified (training happens on a clone). */
  policy: GPT;
  /**
   * The frozen reference π_ref. When omitted, the starting policy is the reference (the
   * "iterative" strategy; see reference.ts). Needed unless referenceLogps cover every pair;
   * without it (and with a precomputed cache) the KL gate has no reference to compare with.
   */
  reference?: GPT;
  /** Precomputed reference log-probs for `pairs` / `heldout`, in pair order. */
  referenceLogps?: PairLogps;
  heldoutReferenceLogps?: PairLogps;
  pairs: Pair[];
  heldout?: Pair[];
  klPrompts?: KLPrompts;
  config: DpoConfigInput;
  onProgress?: (step: StepMetrics) => void;
  signal?: AbortSignal;
}

export interface RoundResult {
  /** The trained policy: a new GPT owned by the caller (dispose it when done). */
  model: GPT;
  config: DpoConfig;
  steps: StepMetrics[];
  summary: RoundSummary;
  /** Held-out evaluation of the trained policy, and of the starting policy for comparison. */
  heldout: PreferenceEval | null;
  heldoutBefore: PreferenceEval | null;
  kl: KLEstimate | null;
  gates: GateResult[];
  passed: boolean;
  /** True when training stopped at a non-finite loss (the `finite` gate then fails). */
  diverged: boolean;
  /** The reference log-probs used, so the caller can cache them. */
  referenceLogps: { train: PairLogps; heldout: PairLogps | null };
}

export class RoundAbortedError extends Error {
  constructor(stage: string) {
    super(`DPO round aborted (${stage})`);
    this.name = "AbortError";
  }
}

/** Deterministic permutation stream (mulberry32 + Fisher–Yates). */
function shuffler(seed: number) {
  const rand = makeRng(seed);
  return (n: number) => {
    const order = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    return order;
  };
}

export function countNonFiniteWeights(model: GPT): number {
  let bad = 0;
  for (const name of model.paramNames()) {
    const v = model.getParam(name).dataSync();
    for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) bad++;
  }
  return bad;
}

/** The referenceLogps the caller supplied, or scores of the reference model. */
async function referenceFor(what: string, pairs: Pair[], given: PairLogps | undefined, ref: GPT, cfg: DpoConfig, signal?: AbortSignal): Promise<PairLogps> {
  if (given) {
    validateLogps(what, given, pairs.length);
    return given;
  }
  return scorePairs(ref, pairs, cfg.scoreBatchSize, signal);
}

/**
 * One optimizer step on `batch`; returns its metrics (measured before the update). When the
 * loss or a log-prob is not finite the update is skipped and `diverged` is set: the round stops
 * there and reports it through the `finite` gate instead of training on garbage.
 */
function trainStep(model: GPT, opt: AdamW, batch: Pair[], ref: PairLogps, cfg: DpoConfig, lr: number) {
  const n = batch.length;
  let lossOut: ReturnType<typeof preferenceLoss> | null = null;
  let logps: Float64Array | null = null;
  let diverged = false;
  const { loss, grads } = logprobGrads(model, pairItems(batch), (all, lengths) => {
    logps = all;
    lossOut = preferenceLoss({
      policyChosen: all.subarray(0, n),
      policyRejected: all.subarray(n, 2 * n),
      refChosen: ref.chosen,
      refRejected: ref.rejected,
      beta: cfg.beta,
      lossType: cfg.lossType,
      labelSmoothing: cfg.labelSmoothing,
      sftWeight: cfg.sftWeight,
      chosenLengths: lengths.subarray(0, n),
      rejectedLengths: lengths.subarray(n, 2 * n),
    });
    // The batch loss is the mean of per-pair losses.
    const dlogps = new Float64Array(2 * n);
    let total = 0;
    for (let i = 0; i < n; i++) {
      total += lossOut.losses[i];
      dlogps[i] = lossOut.gradPolicyChosen[i] / n;
      dlogps[n + i] = lossOut.gradPolicyRejected[i] / n;
    }
    diverged = !Number.isFinite(total) || !dlogps.every(Number.isFinite);
    // A zero upstream gradient keeps the (discarded) backward pass finite.
    return { loss: total / n, dlogps: diverged ? new Float64Array(2 * n) : dlogps };
  });
  let gradNorm = NaN;
  try {
    if (!diverged) {
      gradNorm = clipGradNorm(grads, cfg.maxGradNorm);
      opt.step(model, grads, lr);
    }
  } finally {
    disposeGrads(grads);
  }
  const out = lossOut as unknown as ReturnType<typeof preferenceLoss>;
  const lp = logps as unknown as Float64Array;
  return {
    diverged,
    metrics: {
      loss,
      grad_norm: gradNorm,
      learning_rate: lr,
      ...batchRewardMetrics(out.chosenRewards, out.rejectedRewards, lp.subarray(0, n), lp.subarray(n, 2 * n)),
    },
  };
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function runRound(input: RoundInput): Promise<RoundResult> {
  const cfg = resolveDpoConfig(input.config);
  const { policy, pairs, signal } = input;
  const heldoutPairs = input.heldout ?? [];
  if (pairs.length === 0) throw new Error("runRound: no training pairs");
  validatePairs("pairs", pairs, policy);
  validatePairs("heldout", heldoutPairs, policy);
  const reference = input.reference ?? policy;
  for (const [k, v] of Object.entries(reference.config)) {
    if (policy.config[k as keyof typeof policy.config] !== v) throw new Error(`runRound: reference and policy configs differ in ${k}`);
  }

  let stage = "before start";
  let model: GPT | null = null;
  let opt: AdamW | null = null;
  try {
    signal?.throwIfAborted();
    stage = "while scoring the reference";
    const refTrain = await referenceFor("referenceLogps", pairs, input.referenceLogps, reference, cfg, signal);
    const refHeldout = heldoutPairs.length ? await referenceFor("heldoutReferenceLogps", heldoutPairs, input.heldoutReferenceLogps, reference, cfg, signal) : null;
    const startScores = refHeldout && (policy !== reference || input.heldoutReferenceLogps) ? await scorePairs(policy, heldoutPairs, cfg.scoreBatchSize, signal) : refHeldout;
    const heldoutBefore = refHeldout && startScores ? evaluateHeldout(startScores, refHeldout, cfg) : null;

    model = policy.clone();
    opt = new AdamW({ lr: cfg.lr, weightDecay: cfg.weightDecay });
    const steps: StepMetrics[] = [];
    const permutation = shuffler(cfg.seed);
    let diverged = false;
    for (let epoch = 0; epoch < cfg.epochs && !diverged; epoch++) {
      const order = permutation(pairs.length);
      for (let start = 0; start < order.length && !diverged; start += cfg.batchSize) {
        stage = `at step ${steps.length}`;
        await yieldToEventLoop();
        signal?.throwIfAborted();
        const idx = order.slice(start, start + cfg.batchSize);
        const batch = idx.map((i) => pairs[i]);
        const ref = { chosen: idx.map((i) => refTrain.chosen[i]), rejected: idx.map((i) => refTrain.rejected[i]) };
        const t0 = performance.now();
        const { metrics, diverged: bad } = trainStep(model, opt, batch, ref, cfg, learningRateAt(cfg, steps.length));
        diverged = bad;
        const seconds = (performance.now() - t0) / 1000;
        const tokens = batch.reduce((s, p) => s + 2 * p.promptIds.length + p.chosenIds.length + p.rejectedIds.length, 0);
        const step: StepMetrics = { step: steps.length, epoch, pairs: batch.length, tokens, seconds, ...metrics };
        steps.push(step);
        input.onProgress?.(step);
      }
    }

    stage = "during held-out evaluation";
    const heldout = refHeldout ? evaluateHeldout(await scorePairs(model, heldoutPairs, cfg.scoreBatchSize, signal), refHeldout, cfg) : null;
    let kl: KLEstimate | null = null;
    if (input.klPrompts && input.klPrompts.promptIds.length > 0) {
      stage = "during KL sampling";
      kl = await sampledKL(model, reference, input.klPrompts, {
        samplesPerPrompt: cfg.klSamplesPerPrompt,
        maxNewTokens: cfg.klMaxNewTokens,
        seed: cfg.seed,
        scoreBatchSize: cfg.scoreBatchSize,
        signal,
      });
    }
    const gates = evaluateGates({ steps, heldout, kl, nonFiniteWeights: countNonFiniteWeights(model) }, cfg.gates);
    return {
      model,
      config: cfg,
      steps,
      summary: summarizeSteps(steps),
      heldout,
      heldoutBefore,
      kl,
      gates,
      passed: allGatesPassed(gates),
      diverged,
      referenceLogps: { train: refTrain, heldout: refHeldout },
    };
  } catch (e) {
    model?.dispose();
    if (signal?.aborted) throw new RoundAbortedError(stage);
    throw e;
  } finally {
    opt?.dispose();
  }
}

function evaluateHeldout(policy: PairLogps, ref: PairLogps, cfg: DpoConfig): PreferenceEval {
  return evaluatePreferences(
    { policyChosen: policy.chosen, policyRejected: policy.rejected, refChosen: ref.chosen, refRejected: ref.rejected },
    cfg.beta,
  );
}
