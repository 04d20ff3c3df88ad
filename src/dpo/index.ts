// Public surface of the DPO library (no Next.js, tRPC or Prisma: plain functions over src/lm).

export {
  DEFAULT_GATES,
  type DpoConfig,
  type DpoConfigInput,
  type DpoSettings,
  dpoSchema,
  type GateConfig,
  gatesSchema,
  LOOP_GROUPS,
  type LoopConfig,
  type LoopField,
  type LoopGroup,
  learningRateAt,
  loopConfigSchema,
  loopFields,
  resolveDpoConfig,
  type ScheduleConfig,
  scheduleSchema,
} from "./config.ts";
export {
  allGatesPassed,
  evaluateGates,
  GATE_LABELS,
  type GateEvidence,
  type GateName,
  type GateResult,
  gateFailureMessage,
  heldoutImprovement,
} from "./gates.ts";
export {
  exactSequenceKL,
  type KLEstimate,
  type KLPrompts,
  type KLReport,
  measureKL,
  monteCarloSequenceKL,
  type SamplingSettings,
  servedLogDist,
  summarizeKL,
} from "./kl.ts";
export {
  LOSS_TYPES,
  type LossType,
  logSigmoid,
  type PreferenceLossInput,
  type PreferenceLossOutput,
  preferenceLoss,
  sigmoid,
} from "./losses.ts";
export {
  batchRewardMetrics,
  estimateKL,
  evalSummary,
  evaluatePreferences,
  METRIC_NAMES,
  type MetricName,
  type MetricRecord,
  type PreferenceEval,
  type RoundSummary,
  type StepMetrics,
  summarizeSteps,
} from "./metrics.ts";
export { type Pair, type PairLogps, pairItems, scorePairs, validatePairs } from "./pairs.ts";
export { lineageOf, REFERENCE_STRATEGIES, type ReferenceStrategy, resolveReference } from "./reference.ts";
export { type Checkpoint, countNonFiniteWeights, RoundAbortedError, type RoundInput, type RoundResult, runRound } from "./round.ts";
export { type ClusteredMean, clusteredMean, normalCdf, normalQuantile, oneSided } from "./stats.ts";
