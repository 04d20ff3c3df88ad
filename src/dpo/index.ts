// Public surface of the DPO library (no Next.js, tRPC or Prisma: plain functions over src/lm).
export { preferenceLoss, logSigmoid, sigmoid, LOSS_TYPES, type LossType, type PreferenceLossInput, type PreferenceLossOutput } from "./losses.ts";
export { resolveDpoConfig, learningRateAt, type DpoConfig, type DpoConfigInput } from "./config.ts";
export { runRound, countNonFiniteWeights, RoundAbortedError, type RoundInput, type RoundResult } from "./round.ts";
export { scorePairs, sampledKL, pairItems, validatePairs, type Pair, type PairLogps, type KLPrompts } from "./pairs.ts";
export {
  METRIC_NAMES, batchRewardMetrics, summarizeSteps, evaluatePreferences, estimateKL,
  type MetricName, type MetricRecord, type StepMetrics, type RoundSummary, type PreferenceEval, type KLEstimate,
} from "./metrics.ts";
export { evaluateGates, allGatesPassed, gateFailureMessage, DEFAULT_GATES, type GateConfig, type GateResult, type GateName, type GateEvidence } from "./gates.ts";
export { resolveReference, lineageOf, REFERENCE_STRATEGIES, type ReferenceStrategy } from "./reference.ts";
