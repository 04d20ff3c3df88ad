// Public surface of the DPO library (no Next.js, tRPC or Prisma: plain functions over src/lm).
export { preferenceLoss, logSigmoid, sigmoid, LOSS_TYPES, type LossType, type PreferenceLossInput, type PreferenceLossOutput } from "./losses.ts";
export {
  resolveDpoConfig, learningRateAt, loopFields, scheduleSchema, dpoSchema, gatesSchema, loopConfigSchema, LOOP_GROUPS, DEFAULT_GATES,
  type DpoConfig, type DpoConfigInput, type DpoSettings, type GateConfig, type ScheduleConfig, type LoopConfig, type LoopGroup, type LoopField,
} from "./config.ts";
export { runRound, countNonFiniteWeights, RoundAbortedError, type RoundInput, type RoundResult, type Checkpoint } from "./round.ts";
export { scorePairs, pairItems, validatePairs, type Pair, type PairLogps } from "./pairs.ts";
export { measureKL, exactSequenceKL, monteCarloSequenceKL, servedLogDist, summarizeKL, type KLEstimate, type KLReport, type KLPrompts, type SamplingSettings } from "./kl.ts";
export {
  METRIC_NAMES, batchRewardMetrics, summarizeSteps, evaluatePreferences, evalSummary, estimateKL,
  type MetricName, type MetricRecord, type StepMetrics, type RoundSummary, type PreferenceEval,
} from "./metrics.ts";
export { evaluateGates, allGatesPassed, gateFailureMessage, heldoutImprovement, GATE_LABELS, type GateResult, type GateName, type GateEvidence } from "./gates.ts";
export { clusteredMean, normalCdf, normalQuantile, oneSided, type ClusteredMean } from "./stats.ts";
export { resolveReference, lineageOf, REFERENCE_STRATEGIES, type ReferenceStrategy } from "./reference.ts";
