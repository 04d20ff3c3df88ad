// The configuration of a DPO round. β has no default: it sets how far the policy may move from
// its reference and there is no value that suits every reward scale. Everything else has a
// documented default, and the resolved configuration is returned with (and stored with) every
// round so a run can be reproduced.
import { DEFAULT_GATES, type GateConfig } from "./gates.ts";
import { LOSS_TYPES, type LossType } from "./losses.ts";

export interface DpoConfig {
  /** KL strength β > 0 (required). */
  beta: number;
  /** TRL loss_type. Default "sigmoid" (the DPO loss). */
  lossType: LossType;
  /** Peak AdamW learning rate. Default 1e-4 (small models need more than TRL's 1e-6). */
  lr: number;
  /** Linear warmup: step t (0-based) uses lr·min(1, (t+1)/warmupSteps); constant after. Default 0. */
  warmupSteps: number;
  /** Pairs per optimizer step (2× sequences per forward pass). Default 8. */
  batchSize: number;
  /** Passes over the training pairs, reshuffled every epoch. Default 1. */
  epochs: number;
  /** Global gradient-norm clip. Default 1.0 (TRL's max_grad_norm). */
  maxGradNorm: number;
  /** Seeds the pair shuffling and the KL samples. Default 0. */
  seed: number;
  /** Decoupled AdamW weight decay. Default 0 (TRL's default). */
  weightDecay: number;
  /** ε for sigmoid (conservative DPO) and robust losses. Default 0. */
  labelSmoothing: number;
  /** Weight of the chosen completion's per-token NLL (TRL rpo_alpha). Default 0. */
  sftWeight: number;
  /** Promotion gate thresholds (see gates.ts). */
  gates: GateConfig;
  /** Samples of π_θ per KL prompt, and their maximum length. Defaults 4 and 32. */
  klSamplesPerPrompt: number;
  klMaxNewTokens: number;
  /** Sequences per no-grad scoring batch (reference and held-out log-probs). Default 16. */
  scoreBatchSize: number;
}

export type DpoConfigInput = { beta: number } & Partial<Omit<DpoConfig, "beta" | "gates">> & {
  gates?: Partial<GateConfig>;
};

function check(ok: boolean, field: string, value: unknown, rule: string): void {
  if (!ok) throw new Error(`DPO config: ${field} must be ${rule} (got ${JSON.stringify(value)})`);
}

const isInt = (v: number, min: number) => Number.isInteger(v) && v >= min;
const isNum = (v: number, min: number) => typeof v === "number" && Number.isFinite(v) && v >= min;

export function resolveDpoConfig(input: DpoConfigInput): DpoConfig {
  if (input === null || typeof input !== "object") throw new Error("DPO config: expected an object with at least { beta }");
  if (input.beta === undefined) throw new Error("DPO config: beta is required (there is no default; 0.1 is TRL's usual starting point)");
  const c: DpoConfig = {
    beta: input.beta,
    lossType: input.lossType ?? "sigmoid",
    lr: input.lr ?? 1e-4,
    warmupSteps: input.warmupSteps ?? 0,
    batchSize: input.batchSize ?? 8,
    epochs: input.epochs ?? 1,
    maxGradNorm: input.maxGradNorm ?? 1,
    seed: input.seed ?? 0,
    weightDecay: input.weightDecay ?? 0,
    labelSmoothing: input.labelSmoothing ?? 0,
    sftWeight: input.sftWeight ?? 0,
    gates: { ...DEFAULT_GATES, ...input.gates },
    klSamplesPerPrompt: input.klSamplesPerPrompt ?? 4,
    klMaxNewTokens: input.klMaxNewTokens ?? 32,
    scoreBatchSize: input.scoreBatchSize ?? 16,
  };
  check(isNum(c.beta, 0) && c.beta > 0, "beta", c.beta, "a finite number > 0");
  check(LOSS_TYPES.includes(c.lossType), "lossType", c.lossType, `one of ${LOSS_TYPES.join(", ")}`);
  check(isNum(c.lr, 0) && c.lr > 0, "lr", c.lr, "a finite number > 0");
  check(isInt(c.warmupSteps, 0), "warmupSteps", c.warmupSteps, "an integer >= 0");
  check(isInt(c.batchSize, 1), "batchSize", c.batchSize, "an integer >= 1");
  check(isInt(c.epochs, 1), "epochs", c.epochs, "an integer >= 1");
  check(isNum(c.maxGradNorm, 0) && c.maxGradNorm > 0, "maxGradNorm", c.maxGradNorm, "a finite number > 0");
  check(Number.isInteger(c.seed), "seed", c.seed, "an integer");
  check(isNum(c.weightDecay, 0), "weightDecay", c.weightDecay, "a finite number >= 0");
  check(isNum(c.labelSmoothing, 0) && c.labelSmoothing < 0.5, "labelSmoothing", c.labelSmoothing, "in [0, 0.5)");
  check(c.labelSmoothing === 0 || c.lossType === "sigmoid" || c.lossType === "robust", "labelSmoothing", c.labelSmoothing, `0 for lossType "${c.lossType}"`);
  check(isNum(c.sftWeight, 0), "sftWeight", c.sftWeight, "a finite number >= 0");
  check(isInt(c.klSamplesPerPrompt, 1), "klSamplesPerPrompt", c.klSamplesPerPrompt, "an integer >= 1");
  check(isInt(c.klMaxNewTokens, 1), "klMaxNewTokens", c.klMaxNewTokens, "an integer >= 1");
  check(isInt(c.scoreBatchSize, 1), "scoreBatchSize", c.scoreBatchSize, "an integer >= 1");
  const g = c.gates;
  check(g.minHeldoutAccuracy === null || (isNum(g.minHeldoutAccuracy, 0) && g.minHeldoutAccuracy <= 1), "gates.minHeldoutAccuracy", g.minHeldoutAccuracy, "null or in [0, 1]");
  check(g.maxHeldoutLoss === null || isNum(g.maxHeldoutLoss, 0), "gates.maxHeldoutLoss", g.maxHeldoutLoss, "null or a finite number >= 0");
  check(g.klBudget === null || isNum(g.klBudget, 0), "gates.klBudget", g.klBudget, "null or a finite number >= 0");
  return c;
}

/** Learning rate of 0-based step t under linear warmup to a constant peak. */
export function learningRateAt(config: Pick<DpoConfig, "lr" | "warmupSteps">, step: number): number {
  return config.warmupSteps > 0 ? config.lr * Math.min(1, (step + 1) / config.warmupSteps) : config.lr;
}
