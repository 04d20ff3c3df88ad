// Promotion gates, as tests: a trained policy replaces the served one only if every enabled
// gate passes, and each gate reports the statistic it decided on.
//   finite               every metric and weight is finite
//   heldout_size         at least `minHeldoutPairs` held-out pairs were evaluated
//   heldout_improvement  the held-out DPO loss fell from the round's start: the one-sided lower
//                        confidence bound of mean(loss_before − loss_after), clustered by prompt,
//                        is above 0 (p-value reported)
//   kl_round             upper bound of KL(candidate‖reference) ≤ klBudget
//   kl_root              upper bound of KL(candidate‖lineage root) ≤ rootKlBudget: the drift
//                        budget that keeps rounds from compounding without limit
// A gate whose evidence is missing FAILS and says why; disable a KL gate explicitly with null.
import type { GateConfig } from "./config.ts";
import type { KLEstimate } from "./kl.ts";
import type { PreferenceEval, StepMetrics } from "./metrics.ts";
import { METRIC_NAMES } from "./metrics.ts";
import { clusteredMean, oneSided } from "./stats.ts";

export type { GateConfig } from "./config.ts";
export { DEFAULT_GATES } from "./config.ts";

export type GateName = "finite" | "heldout_size" | "heldout_improvement" | "kl_round" | "kl_root";

/** Plain-language names for the page (older rounds stored the first three names below). */
export const GATE_LABELS: Record<string, string> = {
  finite: "Numbers stayed finite",
  heldout_size: "Enough held-out votes",
  heldout_improvement: "Better on held-out votes",
  kl_round: "Change this round within budget",
  kl_root: "Total drift within budget",
  heldout_accuracy: "Held-out accuracy",
  heldout_loss: "Held-out loss",
  kl: "Change this round within budget",
};

export interface GateResult {
  name: GateName;
  passed: boolean;
  /** the statistic compared with the threshold (NaN when it could not be measured) */
  value: number;
  threshold: number;
  /** for tests: the point estimate, its bound and p-value */
  estimate?: number;
  pValue?: number;
  detail: string;
}

export interface GateEvidence {
  steps: readonly StepMetrics[];
  heldout: PreferenceEval | null;
  heldoutBefore: PreferenceEval | null;
  klRound: KLEstimate | null;
  klRoot: KLEstimate | null;
  /** names for messages, e.g. "v0" */
  rootName?: string;
  /** Number of non-finite entries in the trained weights. */
  nonFiniteWeights: number;
}

const f = (v: number, d = 3) => (Number.isFinite(v) ? v.toFixed(d) : String(v));

function finiteGate(ev: GateEvidence): GateResult {
  const bad: string[] = [];
  if (ev.nonFiniteWeights > 0) bad.push(`${ev.nonFiniteWeights} non-finite weights`);
  for (const s of ev.steps) for (const k of METRIC_NAMES) if (!Number.isFinite(s[k])) bad.push(`step ${s.step} ${k}=${s[k]}`);
  if (ev.heldout)
    for (const k of ["accuracy", "loss", "rewardMargin"] as const)
      if (!Number.isFinite(ev.heldout[k])) bad.push(`heldout ${k}=${ev.heldout[k]}`);
  for (const k of [ev.klRound, ev.klRoot]) if (k && !Number.isFinite(k.kl)) bad.push(`kl=${k.kl}`);
  return {
    name: "finite",
    passed: bad.length === 0,
    value: bad.length,
    threshold: 0,
    detail: bad.length
      ? `non-finite values: ${bad.slice(0, 5).join(", ")}${bad.length > 5 ? ", …" : ""}`
      : "all metrics and weights are finite",
  };
}

/** The paired one-sided test of "training lowered the held-out loss". */
export function heldoutImprovement(before: PreferenceEval, after: PreferenceEval, confidence: number) {
  if (before.losses.length !== after.losses.length) throw new Error("heldoutImprovement: before and after must score the same pairs");
  const diff = before.losses.map((l, i) => l - after.losses[i]);
  const m = clusteredMean(diff, after.clusters);
  return { ...m, ...oneSided(m, confidence) };
}

export function evaluateGates(ev: GateEvidence, config: GateConfig): GateResult[] {
  const gates: GateResult[] = [finiteGate(ev)];
  const n = ev.heldout?.n ?? 0;
  gates.push({
    name: "heldout_size",
    passed: n >= config.minHeldoutPairs,
    value: n,
    threshold: config.minHeldoutPairs,
    detail: `${n} held-out pair${n === 1 ? "" : "s"}; at least ${config.minHeldoutPairs} are needed to tell an improvement from noise`,
  });
  const pct = `${Math.round(config.confidence * 100)}%`;
  if (ev.heldout && ev.heldoutBefore) {
    const t = heldoutImprovement(ev.heldoutBefore, ev.heldout, config.confidence);
    gates.push({
      name: "heldout_improvement",
      passed: t.lower > 0 || !config.requireImprovement,
      value: t.lower,
      threshold: 0,
      estimate: t.mean,
      pValue: t.pValue,
      detail:
        `held-out loss ${f(ev.heldoutBefore.loss, 4)} → ${f(ev.heldout.loss, 4)} (accuracy ${f(ev.heldoutBefore.accuracy)} → ${f(ev.heldout.accuracy)}); ` +
        `improvement ${f(t.mean, 4)}, ${pct} lower bound ${f(t.lower, 4)} over ${t.clusters} prompts, p = ${f(t.pValue, 4)}; ` +
        (config.requireImprovement ? "the bound must be above 0" : "not required (the setting is off)"),
    });
  } else {
    gates.push({
      name: "heldout_improvement",
      passed: !config.requireImprovement,
      value: NaN,
      threshold: 0,
      detail: `no held-out pairs were evaluated before and after training${config.requireImprovement ? "" : " (not required: the setting is off)"}`,
    });
  }
  if (config.klBudget !== null) gates.push(klGate("kl_round", ev.klRound, config.klBudget, pct, "the round's reference"));
  if (config.rootKlBudget !== null) {
    const g = klGate("kl_root", ev.klRoot, config.rootKlBudget, pct, `the lineage root ${ev.rootName ?? ""}`.trim());
    if (!g.passed && ev.klRoot) {
      g.detail +=
        '. The drift budget is spent: raise β (smaller steps), set the reference to "fixed" so training pulls back toward the root, or raise the drift budget knowingly';
    }
    gates.push(g);
  }
  return gates;
}

function klGate(name: "kl_round" | "kl_root", kl: KLEstimate | null, budget: number, pct: string, against: string): GateResult {
  if (!kl)
    return {
      name,
      passed: false,
      value: NaN,
      threshold: budget,
      detail: `KL from ${against} was not measured (no held-out prompts to sample)`,
    };
  return {
    name,
    passed: kl.ucb <= budget,
    value: kl.ucb,
    threshold: budget,
    estimate: kl.kl,
    detail: `KL from ${against} ${f(kl.kl)} ± ${f(kl.stderr)} nats per completion (${pct} upper bound ${f(kl.ucb)}) over ${kl.n} samples of ${kl.prompts} prompts at ${f(kl.meanTokens, 1)} tokens; budget ${budget}`,
  };
}

export const allGatesPassed = (gates: readonly GateResult[]) => gates.every((g) => g.passed);

/** The failing gates, phrased for an admin, or null. */
export function gateFailureMessage(gates: readonly GateResult[]): string | null {
  const failed = gates.filter((g) => !g.passed);
  return failed.length ? failed.map((g) => `${GATE_LABELS[g.name] ?? g.name} failed: ${g.detail}`).join("; ") : null;
}
