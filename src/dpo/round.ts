// long file: one round is one pipeline (reference scoring, training, checkpoint selection, KL, gates) sharing its state; split, each part would need it all passed in
// One DPO round: copy the policy, train the copy on preference pairs against a frozen
// reference, select the best checkpoint on held-out pairs, measure how far it moved (KL from the
// reference and from the lineage root, at the served length) and apply the promotion gates.
//
// The loss lives in losses.ts as a function of summed log-probs; logprobGrads runs the model
// forward over chosen+rejected of a batch in ONE pass and backpropagates our dLoss/dlogp.
// Reference log-probs are computed once per pair before training (or supplied by the caller,
// e.g. cached in the database per completion and reference version) and reused every epoch.
//
// Checkpoint selection: every `evalEverySteps` steps the held-out loss is measured; a checkpoint
// that beats the best so far is kept if a quick KL check puts it inside both budgets. Training
// stops early after `patience` evaluations without improvement, or as soon as a better
// checkpoint is over a budget (further steps only move further). The kept checkpoint, not the
// last weights, is what the gates judge.
import { AdamW, type CausalLM, clipGradNorm, disposeGrads, logprobGrads, makeRng } from "../lm/index.ts";
import { type DpoConfig, type DpoConfigInput, learningRateAt, resolveDpoConfig } from "./config.ts";
import { allGatesPassed, evaluateGates, type GateResult } from "./gates.ts";
import { type KLEstimate, type KLPrompts, type KLReport, measureKL, type SamplingSettings } from "./kl.ts";
import { preferenceLoss } from "./losses.ts";
import {
  batchRewardMetrics,
  evaluatePreferences,
  type PreferenceEval,
  type RoundSummary,
  type StepMetrics,
  summarizeSteps,
} from "./metrics.ts";
import { type Pair, type PairLogps, pairItems, scorePairs, validateLogps, validatePairs } from "./pairs.ts";

export interface RoundInput {
  /** The policy to start from; it is never modified (training happens on a clone). */
  policy: CausalLM;
  /**
   * The frozen reference π_ref. When omitted, the starting policy is the reference (the
   * "iterative" strategy; see reference.ts).
   */
  reference?: CausalLM;
  /** The lineage root the drift budget is measured from (default: the reference). */
  root?: CausalLM;
  rootName?: string;
  /** Precomputed reference log-probs for `pairs` / `heldout`, in pair order. */
  referenceLogps?: PairLogps;
  heldoutReferenceLogps?: PairLogps;
  pairs: Pair[];
  heldout?: Pair[];
  /** held-out prompts the KL is sampled on */
  klPrompts?: KLPrompts;
  /** the arena's sampling (maxNewTokens = the served length); default 64 tokens at T = 1 */
  served?: SamplingSettings;
  config: DpoConfigInput;
  onProgress?: (step: StepMetrics) => void;
  onCheckpoint?: (c: Checkpoint) => void;
  signal?: AbortSignal;
}

/** One held-out look during training. */
export interface Checkpoint {
  /** steps taken when it was measured */
  step: number;
  heldoutLoss: number;
  heldoutAccuracy: number;
  /** quick KL point estimates (null when not measured) */
  klRound: number | null;
  klRoot: number | null;
  kept: boolean;
  note: string;
}

export interface RoundResult {
  /** The selected checkpoint: a new GPT owned by the caller (dispose it when done). */
  model: CausalLM;
  config: DpoConfig;
  steps: StepMetrics[];
  summary: RoundSummary;
  /** Held-out evaluation of the selected checkpoint, and of the starting policy. */
  heldout: PreferenceEval | null;
  heldoutBefore: PreferenceEval | null;
  /** KL of the selected checkpoint from the reference and the root (T = 1 and served settings). */
  kl: KLReport | null;
  klRound: KLEstimate | null;
  klRoot: KLEstimate | null;
  checkpoints: Checkpoint[];
  /** steps taken by the selected checkpoint; stoppedEarly says why training ended before its epochs */
  selectedStep: number;
  stoppedEarly: string | null;
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

export function countNonFiniteWeights(model: CausalLM): number {
  let bad = 0;
  for (const name of model.paramNames()) {
    const v = model.getParam(name).dataSync();
    for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) bad++;
  }
  return bad;
}

/** The referenceLogps the caller supplied, or scores of the reference model. */
async function referenceFor(
  what: string,
  pairs: Pair[],
  given: PairLogps | undefined,
  ref: CausalLM,
  cfg: DpoConfig,
  signal?: AbortSignal,
): Promise<PairLogps> {
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
function trainStep(model: CausalLM, opt: AdamW, batch: Pair[], ref: PairLogps, cfg: DpoConfig, lr: number) {
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
      weights: batch.some((p) => p.weight !== undefined) ? batch.map((p) => p.weight ?? 1) : undefined,
      chosenLengths: lengths.subarray(0, n),
      rejectedLengths: lengths.subarray(n, 2 * n),
    });
    // The batch loss is the mean of per-pair (weighted) losses: a batch of doubtful votes moves the
    // model less, rather than being scaled back up to full strength.
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
/** prompts and samples of the quick KL check at each better checkpoint */
const QUICK_KL = { prompts: 8, samplesPerPrompt: 2 };

export async function runRound(input: RoundInput): Promise<RoundResult> {
  const cfg = resolveDpoConfig(input.config);
  const { policy, pairs, signal } = input;
  const heldoutPairs = input.heldout ?? [];
  if (pairs.length === 0) throw new Error("runRound: no training pairs");
  validatePairs("pairs", pairs, policy);
  validatePairs("heldout", heldoutPairs, policy);
  const reference = input.reference ?? policy;
  const root = input.root ?? reference;
  for (const other of [reference, root]) {
    for (const [k, v] of Object.entries(other.config)) {
      if (policy.config[k as keyof typeof policy.config] !== v)
        throw new Error(`runRound: reference/root and policy configs differ in ${k}`);
    }
  }
  const served: SamplingSettings = input.served ?? { maxNewTokens: 64, temperature: 1 };
  const klOn = Boolean(input.klPrompts && input.klPrompts.promptIds.length > 0);
  const klModels: Record<string, CausalLM> = root === reference ? { reference } : { reference, root };
  const klOf = (r: KLReport | null, which: "reference" | "root") => (r ? (r.t1[which] ?? r.t1.reference) : null);

  let stage = "before start";
  let model: CausalLM | null = null;
  let best: CausalLM | null = null;
  let opt: AdamW | null = null;
  try {
    signal?.throwIfAborted();
    stage = "while scoring the reference";
    const refTrain = await referenceFor("referenceLogps", pairs, input.referenceLogps, reference, cfg, signal);
    const refHeldout = heldoutPairs.length
      ? await referenceFor("heldoutReferenceLogps", heldoutPairs, input.heldoutReferenceLogps, reference, cfg, signal)
      : null;
    const clusters = heldoutPairs.map((p, i) => p.cluster ?? i);
    const evalHeldout = (scores: PairLogps) =>
      evaluatePreferences(
        { policyChosen: scores.chosen, policyRejected: scores.rejected, refChosen: refHeldout!.chosen, refRejected: refHeldout!.rejected },
        cfg.beta,
        clusters,
      );
    const startScores =
      refHeldout && (policy !== reference || input.heldoutReferenceLogps)
        ? await scorePairs(policy, heldoutPairs, cfg.scoreBatchSize, signal)
        : refHeldout;
    const heldoutBefore = refHeldout && startScores ? evalHeldout(startScores) : null;

    model = policy.clone();
    opt = new AdamW({ lr: cfg.lr, weightDecay: cfg.weightDecay });
    const steps: StepMetrics[] = [];
    const checkpoints: Checkpoint[] = [];
    let bestEval: PreferenceEval | null = null;
    let bestStep = -1;
    let sinceBetter = 0;
    let stoppedEarly: string | null = null;

    // Held-out look at the current weights; returns a reason to stop training, or null.
    const look = async (): Promise<string | null> => {
      if (!refHeldout || !model) return null;
      stage = `evaluating the checkpoint at step ${steps.length}`;
      const ev = evalHeldout(await scorePairs(model, heldoutPairs, cfg.scoreBatchSize, signal));
      const cp: Checkpoint = {
        step: steps.length,
        heldoutLoss: ev.loss,
        heldoutAccuracy: ev.accuracy,
        klRound: null,
        klRoot: null,
        kept: false,
        note: "",
      };
      checkpoints.push(cp);
      if (bestEval && !(ev.loss < bestEval.loss)) {
        sinceBetter++;
        cp.note = "no better than the kept checkpoint";
        input.onCheckpoint?.(cp);
        return cfg.patience > 0 && sinceBetter >= cfg.patience ? `held-out loss stopped improving for ${sinceBetter} evaluations` : null;
      }
      if (klOn && (cfg.gates.klBudget !== null || cfg.gates.rootKlBudget !== null)) {
        const quick = { tokenizer: input.klPrompts!.tokenizer, promptIds: input.klPrompts!.promptIds.slice(0, QUICK_KL.prompts) };
        const r = await measureKL(model, klModels, quick, {
          served,
          samplesPerPrompt: QUICK_KL.samplesPerPrompt,
          seed: cfg.seed + steps.length,
          batchSize: cfg.scoreBatchSize,
          confidence: cfg.gates.confidence,
          atServedSettings: false,
          signal,
        });
        cp.klRound = klOf(r, "reference")!.kl;
        cp.klRoot = klOf(r, "root")!.kl;
        const over =
          (cfg.gates.klBudget !== null && cp.klRound > cfg.gates.klBudget) ||
          (cfg.gates.rootKlBudget !== null && cp.klRoot > cfg.gates.rootKlBudget);
        if (over) {
          cp.note = "better held-out loss, but over a KL budget";
          input.onCheckpoint?.(cp);
          return "the next better checkpoint was over a KL budget";
        }
      }
      best?.dispose();
      best = model.clone();
      bestEval = ev;
      bestStep = steps.length;
      sinceBetter = 0;
      cp.kept = true;
      cp.note = "kept (best so far)";
      input.onCheckpoint?.(cp);
      return null;
    };

    const permutation = shuffler(cfg.seed);
    let diverged = false;
    train: for (let epoch = 0; epoch < cfg.epochs && !diverged; epoch++) {
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
        if (!diverged && steps.length % cfg.evalEverySteps === 0) {
          stoppedEarly = await look();
          if (stoppedEarly) break train;
        }
      }
    }
    if (!diverged && !stoppedEarly && checkpoints.at(-1)?.step !== steps.length) await look();

    // The kept checkpoint; without held-out pairs (or when none was kept) the last weights.
    let heldout: PreferenceEval | null = null;
    let selectedStep = steps.length;
    const kept = best as CausalLM | null;
    best = null;
    if (kept && !diverged) {
      model.dispose();
      model = kept;
      heldout = bestEval;
      selectedStep = bestStep;
    } else {
      kept?.dispose();
      if (refHeldout && !diverged) heldout = evalHeldout(await scorePairs(model, heldoutPairs, cfg.scoreBatchSize, signal));
    }
    const chosen: CausalLM = model;

    let kl: KLReport | null = null;
    if (klOn && !diverged) {
      stage = "measuring KL";
      kl = await measureKL(chosen, klModels, input.klPrompts!, {
        served,
        samplesPerPrompt: cfg.klSamplesPerPrompt,
        seed: cfg.seed,
        batchSize: cfg.scoreBatchSize,
        confidence: cfg.gates.confidence,
        signal,
      });
    }
    const klRound = klOf(kl, "reference");
    const klRoot = klOf(kl, "root");
    const gates = evaluateGates(
      { steps, heldout, heldoutBefore, klRound, klRoot, rootName: input.rootName, nonFiniteWeights: countNonFiniteWeights(chosen) },
      cfg.gates,
    );
    return {
      model: chosen,
      config: cfg,
      steps,
      summary: summarizeSteps(steps),
      heldout,
      heldoutBefore,
      kl,
      klRound,
      klRoot,
      checkpoints,
      selectedStep,
      stoppedEarly,
      gates,
      passed: allGatesPassed(gates),
      diverged,
      referenceLogps: { train: refTrain, heldout: refHeldout },
    };
  } catch (e) {
    model?.dispose();
    (best as CausalLM | null)?.dispose();
    if (signal?.aborted) throw new RoundAbortedError(stage);
    throw e;
  } finally {
    opt?.dispose();
  }
}
