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
import { betaQuantile } from "./beta.ts";
import { compileVotes } from "./compile.ts";
import {
  CLASS_A,
  CLASS_B,
  CLASS_NONE,
  type GoldAnswer,
  type Interval,
  type ItemPosterior,
  type LabelerQuality,
  type QualityFit,
  type QualityState,
  type QualityVote,
} from "./types.ts";

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

/** Standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9). */
function normalQuantile(p: number): number {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const tail = (t: number) =>
    (((((c[0]! * t + c[1]!) * t + c[2]!) * t + c[3]!) * t + c[4]!) * t + c[5]!) / ((((d[0]! * t + d[1]!) * t + d[2]!) * t + d[3]!) * t + 1);
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) /
    (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1)
  );
}

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
  /** one-sided normal quantile at `level`: the chance test's bar */
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
    this.chanceZ = normalQuantile(this.level);
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

    return this.summarize({ data, theta, habit, pi, q, informativeItem, iterations, converged, V, L, I, itemVotes });
  }

  private summarize(s: {
    data: ReturnType<typeof compileVotes>;
    theta: Float64Array;
    habit: Float64Array;
    pi: Float64Array;
    q: Float64Array;
    informativeItem: Uint8Array;
    iterations: number;
    converged: boolean;
    V: number;
    L: number;
    I: number;
    itemVotes: (i: number) => number;
  }): QualityFit {
    const { data, theta, habit, pi, q, informativeItem, V, L, I, itemVotes } = s;
    const { labelers, items, voteLabeler, voteItem, voteClass, voteInput, goldClass, duplicate } = data;
    const counts = Array.from({ length: L }, () => ({
      votes: 0,
      decisive: 0,
      overlapping: 0,
      informative: 0,
      evidence: 0,
      drift: 0,
      agree: 0,
      compared: 0,
      goldCorrect: 0,
      goldTotal: 0,
    }));

    const voteCorrect = new Float64Array(duplicate.length);
    for (let k = 0; k < V; k++) {
      const l = voteLabeler[k]!;
      const i = voteItem[k]!;
      const c = voteClass[k]!;
      const n = counts[l]!;
      voteCorrect[voteInput[k]!] = q[3 * i + c]!;
      n.votes++;
      if (c !== CLASS_NONE) n.decisive++;
      if (itemVotes(i) >= 2) n.overlapping++;
      if (!informativeItem[i]) continue;
      n.informative++;
      const g = goldClass[i]!;
      if (g >= 0) {
        n.goldTotal++;
        if (g === c) n.goldCorrect++;
      }
      if (c === CLASS_NONE) continue;
      // How well the pair's answer is known without this vote (leave-one-out posterior): a vote
      // checked against a careful colleague or gold counts fully, against a coin flip not at all.
      let pa: number, pb: number;
      if (g >= 0) {
        pa = g === CLASS_A ? 1 : 0;
        pb = g === CLASS_B ? 1 : 0;
      } else {
        const t = theta[l]!;
        const spam = (1 - t) * habit[3 * l + c]!;
        const r0 = q[3 * i]! / (spam + (c === 0 ? t : 0));
        const r1 = q[3 * i + 1]! / (spam + (c === 1 ? t : 0));
        const r2 = q[3 * i + 2]! / (spam + (c === 2 ? t : 0));
        const sum = r0 + r1 + r2;
        pa = r0 / sum;
        pb = r1 / sum;
      }
      n.evidence += (pa - pb) ** 2;
      n.drift += c === CLASS_A ? pa - pb : pb - pa;
    }
    // Raw pairwise agreement, for admins who want the plain statistic next to the model's.
    for (let i = 0; i < I; i++) {
      const from = data.itemStart[i]!;
      const to = data.itemStart[i + 1]!;
      for (let a = from; a < to; a++) {
        for (let b = a + 1; b < to; b++) {
          const same = voteClass[a] === voteClass[b] ? 1 : 0;
          counts[voteLabeler[a]!]!.compared++;
          counts[voteLabeler[b]!]!.compared++;
          counts[voteLabeler[a]!]!.agree += same;
          counts[voteLabeler[b]!]!.agree += same;
        }
      }
    }

    const lowP = (1 - this.level) / 2;
    const highP = 1 - lowP;
    const decisiveTruth = pi[CLASS_A]! + pi[CLASS_B]!;
    const wA = pi[CLASS_A]! / decisiveTruth;
    const wB = pi[CLASS_B]! / decisiveTruth;
    const result: LabelerQuality[] = [];
    let flipSum = 0,
      flipLower = 0,
      flipUpper = 0,
      decisiveVotes = 0;
    const stateLabelers: QualityState["labelers"] = {};
    for (let l = 0; l < L; l++) {
      const n = counts[l]!;
      const t = theta[l]!;
      const hA = habit[3 * l]!,
        hB = habit[3 * l + 1]!,
        hN = habit[3 * l + 2]!;
      // Given a pair with a preference, the habit answers the wrong side with probability s and
      // any side with probability d; judging never answers the wrong side.
      const s = wA * hB + wB * hA;
      const d = hA + hB;
      const flipOf = (comp: number) => ((1 - comp) * s) / (comp + (1 - comp) * d);
      const competenceOf = (flip: number) => Math.min(1, Math.max(0, (s - flip * d) / (s + flip * (1 - d))));
      const flip = flipOf(t);
      const strength = n.evidence + this.priorEvidence;
      const a = Math.max(flip * strength, 1e-9);
      const b = Math.max((1 - flip) * strength, 1e-9);
      const flipRate: Interval = {
        estimate: flip,
        lower: Math.min(flip, betaQuantile(lowP, a, b)),
        upper: Math.max(flip, betaQuantile(highP, a, b)),
      };
      const reliability: Interval = {
        estimate: t,
        lower: Math.min(t, competenceOf(flipRate.upper)),
        upper: Math.max(t, competenceOf(flipRate.lower)),
      };
      // Chance test: a labeler who ignores the pair (coin flip or fixed side) sides with the
      // others' answer as often as against it, whatever the others' quality, so Σ ±(pa − pb) has
      // mean 0 and variance Σ (pa − pb)². Unlike θ it needs no model of the labeler.
      const aboveChance = n.evidence > 0 ? n.drift / Math.sqrt(n.evidence) : 0;
      const flag = n.evidence < this.minEvidence ? "no-evidence" : aboveChance < this.chanceZ ? "chance" : null;
      result.push({
        labeler: labelers[l]!,
        votes: n.votes,
        decisiveVotes: n.decisive,
        overlappingVotes: n.overlapping,
        informativeVotes: n.informative,
        evidence: n.evidence,
        aboveChance,
        reliability,
        flipRate,
        habit: { A: hA, B: hB, NONE: hN },
        agreement: { agree: n.agree, compared: n.compared, rate: n.compared ? n.agree / n.compared : null },
        gold: { correct: n.goldCorrect, total: n.goldTotal, accuracy: n.goldTotal ? n.goldCorrect / n.goldTotal : null },
        flag,
      });
      flipSum += n.decisive * flip;
      flipLower += n.decisive * flipRate.lower;
      flipUpper += n.decisive * flipRate.upper;
      decisiveVotes += n.decisive;
      stateLabelers[labelers[l]!] = { competence: t, habit: [hA, hB, hN] };
    }

    const itemPosteriors: ItemPosterior[] = new Array(I);
    for (let i = 0; i < I; i++) {
      itemPosteriors[i] = {
        item: items[i]!,
        probabilities: [q[3 * i]!, q[3 * i + 1]!, q[3 * i + 2]!],
        gold: goldClass[i]! >= 0,
        votes: itemVotes(i),
      };
    }
    const classPrior: [number, number, number] = [pi[0]!, pi[1]!, pi[2]!];
    return {
      labelers: result,
      items: itemPosteriors,
      voteCorrect,
      // With no decisive votes there is nothing to flip; 0 keeps the robust loss a plain DPO loss.
      flipRate: decisiveVotes
        ? { estimate: flipSum / decisiveVotes, lower: flipLower / decisiveVotes, upper: flipUpper / decisiveVotes, decisiveVotes }
        : { estimate: 0, lower: 0, upper: 0, decisiveVotes: 0 },
      classPrior: { A: classPrior[0], B: classPrior[1], NONE: classPrior[2] },
      iterations: s.iterations,
      converged: s.converged,
      ignoredDuplicates: data.ignoredDuplicates,
      state: { classPrior, labelers: stateLabelers },
    };
  }
}
