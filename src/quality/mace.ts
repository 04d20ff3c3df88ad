// Labeler reliability jointly with each pair's answer: a MACE-style model (Hovy et al. 2013,
// "Learning Whom to Trust with MACE"), fitted by EM with priors, over three classes A / B / NONE.
//
// Each pair i has an unknown answer z_i ~ π. Labeler j judges the pair with probability θ_j
// (competence) and then answers z_i; otherwise answers from a habit distribution ξ_j that ignores
// the pair. One parameter θ_j says how much to trust a labeler; ξ_j lets the model tell a random
// clicker (ξ = ½, ½, 0), an "always A" clicker (ξ = 1, 0, 0) and a lazy "both bad" clicker apart
// without spending per-class error parameters that sparse overlap could never pin down (a full
// Dawid–Skene confusion matrix needs 6 per labeler; this needs 3).
//
// Why not Bradley–Terry with per-labeler competence (NoisyBT): every arena battle samples fresh
// completions, so a completion appears in exactly one pair (overlap copies the pair). With no
// completion shared between pairs, BT's scores reduce to one latent preference per pair, which is
// what z_i is here, and the categorical form keeps ties and both-bad as answers in their own right.
//
// Only pairs with a second labeler or a gold answer update labeler parameters: with a free habit
// ξ_j, a pair seen by one labeler fits any θ_j equally well, and letting it in would shrink the
// interval of a labeler nobody has checked.
import { normalQuantile } from "./beta.ts";
import { compileVotes } from "./compile.ts";
import { summarizeFit } from "./summary.ts";
import { CLASS_A, CLASS_B, CLASS_NONE, type GoldAnswer, type QualityFit, type QualityState, type QualityVote } from "./types.ts";

export interface MaceOptions {
  /** Beta prior on competence θ. Default (2, 1): most people judge most pairs, but weakly held. */
  competencePrior?: { alpha: number; beta: number };
  /** Symmetric Dirichlet pseudo-count on each class of a labeler's habit. Default 1. */
  habitPrior?: number;
  /** Symmetric Dirichlet pseudo-count on the class prior π. Default 1. */
  classPrior?: number;
  maxIterations?: number;
  /** Stop when no θ or ξ moves by more than this. Default 1e-5. */
  tolerance?: number;
  /** Interval level. Default 0.95. */
  level?: number;
  /** Below this many effective checked votes a labeler is "no-evidence". Default 5. */
  minEvidence?: number;
  /** Pseudo-votes at the model's estimate added to the flip-rate interval, so no evidence gives a wide, finite interval. Default 2. */
  priorEvidence?: number;
}

export interface FitInput {
  gold?: readonly GoldAnswer[];
  /** the previous fit's `state`: start EM there, so a re-fit after new votes takes a few iterations */
  warmStart?: QualityState;
}

const required = (name: string, x: number, ok: boolean) => {
  if (!ok || !Number.isFinite(x)) throw new Error(`MaceModel: ${name} is ${x}, out of range`);
  return x;
};

/** Back into the parameter space after an extrapolated jump: rates in (0, 1), habits summing to 1. */
function project(p: Float64Array, L: number): void {
  const lo = 1e-9;
  const clamp = (x: number) => Math.min(1 - lo, Math.max(lo, Number.isFinite(x) ? x : 0.5));
  for (let l = 0; l < L; l++) p[l] = clamp(p[l]!);
  for (let l = 0; l < L; l++) {
    let sum = 0;
    for (let c = 0; c < 3; c++) {
      p[L + 3 * l + c] = clamp(p[L + 3 * l + c]!);
      sum += p[L + 3 * l + c]!;
    }
    for (let c = 0; c < 3; c++) p[L + 3 * l + c]! /= sum;
  }
  p[4 * L] = clamp(p[4 * L]!);
}

export class MaceModel {
  readonly alpha: number;
  readonly beta: number;
  readonly habitPrior: number;
  readonly classPriorCount: number;
  readonly maxIterations: number;
  readonly tolerance: number;
  readonly level: number;
  readonly minEvidence: number;
  readonly priorEvidence: number;
  /**
   * The chance test's bar: the two-sided normal quantile at `level` (1.96 at 95%), so a labeler is
   * flagged exactly when a `level` interval around their agreement above chance reaches chance,
   * the same level as the intervals shown beside the flag. (It was the one-sided 1.64: measured
   * on the arena's vote stream at 200 votes each, that missed up to 3 of 20 careless labelers
   * while flagging almost no careful one; docs/labeler-quality.md, "Measured".)
   */
  readonly chanceZ: number;

  constructor(options: MaceOptions = {}) {
    const prior = options.competencePrior ?? { alpha: 2, beta: 1 };
    this.alpha = required("competencePrior.alpha", prior.alpha, prior.alpha > 0);
    this.beta = required("competencePrior.beta", prior.beta, prior.beta > 0);
    this.habitPrior = required("habitPrior", options.habitPrior ?? 1, (options.habitPrior ?? 1) > 0);
    this.classPriorCount = required("classPrior", options.classPrior ?? 1, (options.classPrior ?? 1) > 0);
    this.maxIterations = required("maxIterations", options.maxIterations ?? 500, (options.maxIterations ?? 500) >= 1);
    this.tolerance = required("tolerance", options.tolerance ?? 1e-5, (options.tolerance ?? 1e-5) > 0);
    this.level = required("level", options.level ?? 0.95, (options.level ?? 0.95) > 0 && (options.level ?? 0.95) < 1);
    this.minEvidence = required("minEvidence", options.minEvidence ?? 5, (options.minEvidence ?? 5) >= 0);
    this.chanceZ = normalQuantile(1 - (1 - this.level) / 2);
    this.priorEvidence = required("priorEvidence", options.priorEvidence ?? 2, (options.priorEvidence ?? 2) > 0);
  }

  fit(votes: readonly QualityVote[], input: FitInput = {}): QualityFit {
    const data = compileVotes(votes, input.gold);
    const { labelers, items, voteLabeler, voteClass, itemStart, goldClass } = data;
    const L = labelers.length;
    const I = items.length;
    const V = voteLabeler.length;

    const itemVotes = (i: number) => itemStart[i + 1]! - itemStart[i]!;
    const informativeItem = new Uint8Array(I);
    for (let i = 0; i < I; i++) informativeItem[i] = itemVotes(i) >= 2 || goldClass[i]! >= 0 ? 1 : 0;

    // All parameters in one vector, so the EM map can be extrapolated (SQUAREM):
    // [θ_0 … θ_{L−1} | ξ_0(A, B, NONE) … | share of pairs with no preference].
    const HABIT = L;
    const NONE = 4 * L;
    const size = 4 * L + 1;
    const params = new Float64Array(size);
    params.fill(this.alpha / (this.alpha + this.beta), 0, L);
    params.fill(1 / 3, HABIT, NONE);
    params[NONE] = 1 / 3;
    if (input.warmStart) {
      params[NONE] = input.warmStart.classPrior[CLASS_NONE];
      for (let l = 0; l < L; l++) {
        const s = input.warmStart.labelers[labelers[l]!];
        if (!s) continue;
        params[l] = s.competence;
        params.set(s.habit, HABIT + 3 * l);
      }
      project(params, L);
    }

    const checked = new Float64Array(L);
    // A pair with one vote and no gold depends only on who voted what: EM passes visit the other
    // pairs one by one and these as (labeler, answer) counts, so mostly-single arenas stay cheap.
    const singles = new Float64Array(3 * L);
    let informativeCount = 0;
    for (let i = 0; i < I; i++) {
      if (!informativeItem[i]) {
        const k = itemStart[i]!;
        singles[3 * voteLabeler[k]! + voteClass[k]!]! += 1;
        continue;
      }
      informativeCount++;
      for (let k = itemStart[i]!; k < itemStart[i + 1]!; k++) checked[voteLabeler[k]!]! += 1;
    }
    const informativeItems = new Int32Array(informativeCount);
    for (let i = 0, w = 0; i < I; i++) if (informativeItem[i]) informativeItems[w++] = i;
    const allItems = Int32Array.from({ length: I }, (_, i) => i);
    const q = new Float64Array(3 * I);
    const logLik = new Float64Array(9 * L);
    const knows = new Float64Array(L);
    const habitCounts = new Float64Array(3 * L);

    /**
     * One EM step: posteriors under `from` (left in q for the pairs in `visit`), then the MAP
     * update into `to`. `visit` is the informative pairs during the fit, every pair at the end.
     */
    const emStep = (from: Float64Array, to: Float64Array, visit: Int32Array = informativeItems) => {
      for (let l = 0; l < L; l++) {
        const t = from[l]!;
        for (let c = 0; c < 3; c++) {
          const spam = (1 - t) * from[HABIT + 3 * l + c]!;
          for (let z = 0; z < 3; z++) logLik[9 * l + 3 * c + z] = Math.log(spam + (z === c ? t : 0));
        }
      }
      // The arena puts each completion left or right at random, so A and B are equally likely
      // answers a priori; only the share of pairs without a preference is estimated. (Left free,
      // π_A − π_B drifts along a ridge of the likelihood together with the habits.)
      const logDecisive = Math.log((1 - from[NONE]!) / 2);
      const logNone = Math.log(from[NONE]!);
      knows.fill(0);
      habitCounts.fill(0);
      let noneMass = 0;
      let ordinary = 0;
      if (visit === informativeItems) {
        for (let l = 0; l < L; l++) {
          for (let c = 0; c < 3; c++) {
            const count = singles[3 * l + c]!;
            if (count === 0) continue;
            const base = 9 * l + 3 * c;
            const e0 = Math.exp(logDecisive + logLik[base]!),
              e1 = Math.exp(logDecisive + logLik[base + 1]!),
              e2 = Math.exp(logNone + logLik[base + 2]!);
            noneMass += (count * e2) / (e0 + e1 + e2);
            ordinary += count;
          }
        }
      }
      for (let n = 0; n < visit.length; n++) {
        const i = visit[n]!;
        const g = goldClass[i]!;
        if (g >= 0) {
          q[3 * i] = g === CLASS_A ? 1 : 0;
          q[3 * i + 1] = g === CLASS_B ? 1 : 0;
          q[3 * i + 2] = g === CLASS_NONE ? 1 : 0;
        } else {
          let s0 = logDecisive,
            s1 = logDecisive,
            s2 = logNone;
          for (let k = itemStart[i]!; k < itemStart[i + 1]!; k++) {
            const base = 9 * voteLabeler[k]! + 3 * voteClass[k]!;
            s0 += logLik[base]!;
            s1 += logLik[base + 1]!;
            s2 += logLik[base + 2]!;
          }
          const m = Math.max(s0, s1, s2);
          const e0 = Math.exp(s0 - m),
            e1 = Math.exp(s1 - m),
            e2 = Math.exp(s2 - m);
          const sum = e0 + e1 + e2;
          q[3 * i] = e0 / sum;
          q[3 * i + 1] = e1 / sum;
          q[3 * i + 2] = e2 / sum;
          noneMass += q[3 * i + 2]!;
          ordinary++;
        }
        if (!informativeItem[i]) continue;
        for (let k = itemStart[i]!; k < itemStart[i + 1]!; k++) {
          const l = voteLabeler[k]!;
          const c = voteClass[k]!;
          // P(judged | answer c, data) = P(z = c | data) · θ / (θ + (1 − θ) ξ_c)
          const t = from[l]!;
          const know = (q[3 * i + c]! * t) / (t + (1 - t) * from[HABIT + 3 * l + c]!);
          knows[l]! += know;
          habitCounts[3 * l + c]! += 1 - know;
        }
      }
      for (let l = 0; l < L; l++) {
        // Posterior means, not modes: a labeler with no checked votes stays at the prior mean.
        to[l] = (this.alpha + knows[l]!) / (this.alpha + this.beta + checked[l]!);
        const total = habitCounts[3 * l]! + habitCounts[3 * l + 1]! + habitCounts[3 * l + 2]! + 3 * this.habitPrior;
        for (let c = 0; c < 3; c++) to[HABIT + 3 * l + c] = (habitCounts[3 * l + c]! + this.habitPrior) / total;
      }
      to[NONE] = (noneMass + this.classPriorCount) / (ordinary + 3 * this.classPriorCount);
    };

    // SQUAREM (Varadhan & Roland 2008): two EM steps give a direction and a step length, one
    // extrapolated jump, one EM step to stabilise it. Plain EM crawls here (a random clicker's θ
    // approaches 0 at a rate near 1 per step); this needs several times fewer passes.
    const p1 = new Float64Array(size);
    const p2 = new Float64Array(size);
    const jumped = new Float64Array(size);
    let iterations = 0;
    let converged = false;
    while (iterations < this.maxIterations) {
      emStep(params, p1);
      emStep(p1, p2);
      iterations += 2;
      let rr = 0,
        vv = 0,
        last = 0;
      for (let k = 0; k < size; k++) {
        const r = p1[k]! - params[k]!;
        const v = p2[k]! - 2 * p1[k]! + params[k]!;
        rr += r * r;
        vv += v * v;
        last = Math.max(last, Math.abs(p2[k]! - p1[k]!));
      }
      if (last < this.tolerance || vv === 0) {
        params.set(p2);
        converged = true;
        break;
      }
      const step = Math.min(-1, -Math.sqrt(rr / vv));
      for (let k = 0; k < size; k++) {
        const r = p1[k]! - params[k]!;
        const v = p2[k]! - 2 * p1[k]! + params[k]!;
        jumped[k] = params[k]! - 2 * step * r + step * step * v;
      }
      project(jumped, L);
      emStep(jumped, params);
      iterations++;
      let change = 0;
      for (let k = 0; k < size; k++) change = Math.max(change, Math.abs(params[k]! - jumped[k]!));
      if (change < this.tolerance) {
        converged = true;
        break;
      }
    }
    // Posteriors under the final parameters (the step's update is discarded).
    emStep(params, jumped, allItems);
    const theta = params.subarray(0, L);
    const habit = params.subarray(HABIT, NONE);
    const pi = new Float64Array([(1 - params[NONE]!) / 2, (1 - params[NONE]!) / 2, params[NONE]!]);

    return summarizeFit(this, { data, theta, habit, pi, q, informativeItem, iterations, converged, V, L, I, itemVotes });
  }
}
