// What the held-out test could ever see, computed from the true reward instead of a trained
// model: the questions to ask before blaming the optimizer when rounds keep failing their gates.
//
// - The labeler ceiling: with Bradley–Terry labelers of temperature τ, a vote on a pair whose true
//   rewards differ by Δ agrees with the sign of Δ with probability σ(|Δ|/τ). No implicit reward
//   can predict held-out votes better than sign(Δ) does, so E[σ(|Δ|/τ)] over decisive pairs is
//   the accuracy ceiling, and E[H(σ(Δ/τ))] (binary entropy) the loss floor.
// - The KL-constrained optimum: the policy DPO aims at is π_c ∝ π_ref · exp(c·r) (c = 1/β' for a
//   temperature β' of the tilt). From rewards of samples of π_ref, self-normalised importance
//   weights give its KL from π_ref, its expected reward, and its implicit reward difference on a
//   held-out pair, β·log(π_c/π_ref)(y_w) − β·log(π_c/π_ref)(y_l) = β·c·Δr. So for every KL budget
//   we know the best reward gain any policy could buy, and the held-out loss improvement the
//   optimal policy would show at the gate's β, hence how many held-out pairs the one-sided test
//   needs to see it.
import { logSigmoid } from "./losses.ts";
import { normalQuantile } from "./stats.ts";

/** One decisive held-out pair: r(chosen) − r(rejected) under the TRUE reward (negative when the vote went against it). */
export type VotedMargin = number;

export interface LabelerCeiling {
  pairs: number;
  /** share of decisive votes that agree with the sign of the true reward difference (ties in r count ½) */
  voteAgreement: number;
  /** the best expected accuracy of any predictor, E[σ(|Δ|/τ)] */
  idealAccuracy: number;
  /** the smallest expected held-out loss, E[H(σ(Δ/τ))] in nats */
  lossFloor: number;
}

/** The labeler noise ceiling of decisive pairs with true margins `margins` (chosen − rejected). */
export function labelerCeiling(margins: readonly VotedMargin[], temperature: number): LabelerCeiling {
  if (!(temperature > 0)) throw new Error(`labelerCeiling: temperature must be > 0, got ${temperature}`);
  const n = margins.length;
  if (n === 0) return { pairs: 0, voteAgreement: NaN, idealAccuracy: NaN, lossFloor: NaN };
  let agree = 0,
    acc = 0,
    floor = 0;
  for (const m of margins) {
    agree += m > 0 ? 1 : m === 0 ? 0.5 : 0;
    const z = Math.abs(m) / temperature;
    acc += Math.exp(logSigmoid(z));
    // binary entropy of p = σ(z): −p·log p − (1−p)·log(1−p)
    const p = Math.exp(logSigmoid(z));
    floor += -p * logSigmoid(z) - (1 - p) * logSigmoid(-z);
  }
  return { pairs: n, voteAgreement: agree / n, idealAccuracy: acc / n, lossFloor: floor / n };
}

export interface TiltPoint {
  /** c in π_c ∝ π_ref·exp(c·r) */
  c: number;
  /** KL(π_c ‖ π_ref) in nats per completion (self-normalised importance estimate) */
  kl: number;
  /** E_{π_c}[r] − E_{π_ref}[r] */
  rewardGain: number;
  /** the gain in units of the reference's reward standard deviation */
  gainInStd: number;
  /** effective sample size of the importance weights: below ~50 the point is not to be trusted */
  ess: number;
}

/**
 * The reward-vs-KL frontier of the exponential tilt of π_ref by the reward, from `rewards` of
 * independent samples of π_ref. Self-normalised: with few samples it underestimates both KL
 * and gain at large c (the ESS says when).
 */
export function tiltFrontier(rewards: readonly number[], cs: readonly number[]): TiltPoint[] {
  const n = rewards.length;
  if (n < 2) throw new Error("tiltFrontier: needs at least two reward samples");
  const mean = rewards.reduce((s, r) => s + r, 0) / n;
  const std = Math.sqrt(rewards.reduce((s, r) => s + (r - mean) ** 2, 0) / (n - 1));
  const max = Math.max(...rewards);
  return cs.map((c) => {
    const logw = rewards.map((r) => c * (r - max));
    const z = logw.reduce((s, l) => s + Math.exp(l), 0);
    const w = logw.map((l) => Math.exp(l) / z);
    let kl = 0,
      gain = 0,
      sq = 0;
    for (let i = 0; i < n; i++) {
      if (w[i] > 0) kl += w[i] * Math.log(w[i] * n);
      gain += w[i] * rewards[i];
      sq += w[i] * w[i];
    }
    return { c, kl, rewardGain: gain - mean, gainInStd: (gain - mean) / std, ess: 1 / sq };
  });
}

export interface TestPower {
  /** mean per-pair drop of the held-out DPO loss (log 2 − loss of the tilted policy) */
  meanImprovement: number;
  /** its per-pair standard deviation */
  sd: number;
  /** held-out accuracy of the tilted policy's implicit reward (= sign of Δr; ties ½) */
  accuracy: number;
  /** held-out pairs the one-sided test needs to pass with probability `power` */
  pairsNeeded: number;
}

/**
 * Held-out pairs needed to detect a per-pair mean `mean` with per-pair s.d. `sd` by a one-sided
 * test at `confidence` with probability `power`: n = ((z_conf + z_power)·sd / mean)².
 */
export function pairsForTest(mean: number, sd: number, confidence: number, power: number): number {
  if (!(mean > 0)) return Infinity;
  return (((normalQuantile(confidence) + normalQuantile(power)) * sd) / mean) ** 2;
}

/**
 * The gate's view of the optimal tilted policy π_c: its implicit reward difference on a held-out
 * pair is β·c·Δr, so each pair's loss drops by log 2 + log σ(β·c·Δr) from the untrained start
 * (the start's implicit rewards are 0, loss log 2).
 */
export function tiltTestPower(margins: readonly VotedMargin[], beta: number, c: number, confidence: number, power: number): TestPower {
  const n = margins.length;
  const d = margins.map((m) => Math.LN2 + logSigmoid(beta * c * m));
  const mean = d.reduce((s, x) => s + x, 0) / n;
  const sd = Math.sqrt(d.reduce((s, x) => s + (x - mean) ** 2, 0) / Math.max(1, n - 1));
  const accuracy = margins.reduce((s, m) => s + (m > 0 ? 1 : m === 0 ? 0.5 : 0), 0) / n;
  return { meanImprovement: mean, sd, accuracy, pairsNeeded: pairsForTest(mean, sd, confidence, power) };
}
