// Promotion gates: a trained policy replaces the served one only if every enabled gate passes.
// A gate whose evidence is missing (no held-out pairs, no KL prompts) FAILS and says why;
// to run without a gate, disable it explicitly by setting its threshold to null.
import type { KLEstimate, PreferenceEval, StepMetrics } from "./metrics.ts";
import { METRIC_NAMES } from "./metrics.ts";

export type GateName = "finite" | "heldout_accuracy" | "heldout_loss" | "kl";

export interface GateResult {
  name: GateName;
  passed: boolean;
  /** The measured value (NaN when it could not be measured; see detail). */
  value: number;
  threshold: number;
  detail: string;
}

export interface GateConfig {
  /** Held-out preference accuracy must be strictly above this. null disables the gate. */
  minHeldoutAccuracy: number | null;
  /** Held-out mean sigmoid DPO loss must be strictly below this. null disables the gate. */
  maxHeldoutLoss: number | null;
  /** Estimated KL(π_θ‖π_ref) in nats per completion must be at most this. null disables it. */
  klBudget: number | null;
}

/**
 * Defaults: accuracy above chance, loss below its untrained value log 2, and a KL budget of
 * 8 nats per sampled completion (e^8 ≈ 3000× likelihood ratio on a typical completion: a
 * policy that moved further than that is no longer a refinement of its reference).
 */
export const DEFAULT_GATES: GateConfig = { minHeldoutAccuracy: 0.5, maxHeldoutLoss: Math.LN2, klBudget: 8 };

export interface GateEvidence {
  steps: readonly StepMetrics[];
  heldout: PreferenceEval | null;
  kl: KLEstimate | null;
  /** Number of non-finite entries in the trained weights. */
  nonFiniteWeights: number;
}

function finiteGate(ev: GateEvidence): GateResult {
  const bad: string[] = [];
  if (ev.nonFiniteWeights > 0) bad.push(`${ev.nonFiniteWeights} non-finite weights`);
  ev.steps.forEach((s) => {
    for (const k of METRIC_NAMES) if (!Number.isFinite(s[k])) bad.push(`step ${s.step} ${k}=${s[k]}`);
  });
  if (ev.heldout) {
    for (const k of ["accuracy", "loss", "rewardMargin", "logpMargin", "logpAccuracy"] as const) {
      if (!Number.isFinite(ev.heldout[k])) bad.push(`heldout ${k}=${ev.heldout[k]}`);
    }
  }
  if (ev.kl && !Number.isFinite(ev.kl.kl)) bad.push(`kl=${ev.kl.kl}`);
  return {
    name: "finite",
    passed: bad.length === 0,
    value: bad.length,
    threshold: 0,
    detail: bad.length ? `non-finite values: ${bad.slice(0, 5).join(", ")}${bad.length > 5 ? ", …" : ""}` : "all metrics and weights finite",
  };
}

export function evaluateGates(ev: GateEvidence, config: GateConfig): GateResult[] {
  const gates: GateResult[] = [finiteGate(ev)];
  const missingHeldout = "no held-out pairs were evaluated";
  if (config.minHeldoutAccuracy !== null) {
    const value = ev.heldout?.accuracy ?? NaN;
    gates.push({
      name: "heldout_accuracy",
      passed: value > config.minHeldoutAccuracy,
      value,
      threshold: config.minHeldoutAccuracy,
      detail: ev.heldout ? `held-out preference accuracy ${value.toFixed(4)} on ${ev.heldout.n} pairs, must be > ${config.minHeldoutAccuracy}` : missingHeldout,
    });
  }
  if (config.maxHeldoutLoss !== null) {
    const value = ev.heldout?.loss ?? NaN;
    gates.push({
      name: "heldout_loss",
      passed: value < config.maxHeldoutLoss,
      value,
      threshold: config.maxHeldoutLoss,
      detail: ev.heldout ? `held-out DPO loss ${value.toFixed(4)}, must be < ${config.maxHeldoutLoss.toFixed(4)}` : missingHeldout,
    });
  }
  if (config.klBudget !== null) {
    const value = ev.kl?.kl ?? NaN;
    gates.push({
      name: "kl",
      passed: value <= config.klBudget,
      value,
      threshold: config.klBudget,
      detail: ev.kl
        ? `KL(policy‖reference) ${value.toFixed(4)} ± ${ev.kl.stderr.toFixed(4)} nats over ${ev.kl.n} samples, budget ${config.klBudget}`
        : "KL was not estimated (no KL prompts or no reference model)",
    });
  }
  return gates;
}

export const allGatesPassed = (gates: readonly GateResult[]) => gates.every((g) => g.passed);

/** The first failing gate, phrased for an admin ("heldout_accuracy failed: …"), or null. */
export function gateFailureMessage(gates: readonly GateResult[]): string | null {
  const failed = gates.filter((g) => !g.passed);
  return failed.length ? failed.map((g) => `${g.name} failed: ${g.detail}`).join("; ") : null;
}
