// From a converged fit to what people read: per-labeler intervals, the chance test, agreement
// and gold accuracy, per-pair posteriors, and the overall flip rate ε.
import { betaQuantile } from "./beta.ts";
import type { CompiledVotes } from "./compile.ts";
import {
  CLASS_A,
  CLASS_B,
  CLASS_NONE,
  type Interval,
  type ItemPosterior,
  type LabelerQuality,
  type QualityFit,
  type QualityState,
} from "./types.ts";

export interface SummarySettings {
  level: number;
  minEvidence: number;
  priorEvidence: number;
  /** the chance test's bar: two-sided normal quantile at `level` (MaceModel.chanceZ) */
  chanceZ: number;
}

export function summarizeFit(
  settings: SummarySettings,
  s: {
    data: CompiledVotes;
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
  },
): QualityFit {
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

  const lowP = (1 - settings.level) / 2;
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
    const strength = n.evidence + settings.priorEvidence;
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
    const flag = n.evidence < settings.minEvidence ? "no-evidence" : aboveChance < settings.chanceZ ? "chance" : null;
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
