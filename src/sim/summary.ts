// The acceptance numbers for one run, and their mean ± s.e. over seeds.
import type { ReportVersion } from "./report.ts";

export interface RunFacts {
  /** decisive (A/B) votes cast before the rating phase */
  decisiveVotes?: number;
  /** decisive votes cast before the first promotion (null: nothing was promoted) */
  votesUntilFirstPromotion?: number | null;
  /** the loop's root KL budget (null when the product has none) */
  rootKlBudget?: number | null;
}

const ratio = (a: number | null | undefined, b: number | null | undefined) => (a != null && b != null && b > 0 ? a / b : null);

/** Computed from the versions in promotion order (v0 first) and what the run counted. */
export function summarize(versions: ReportVersion[], facts: RunFacts = {}): Record<string, unknown> {
  if (versions.length === 0) return { versions: 0 };
  const v0 = versions[0];
  const last = versions[versions.length - 1];
  let monotonic = versions.length >= 2;
  for (let i = 1; i < versions.length; i++) if (!(versions[i].meanReward > versions[i - 1].meanReward)) monotonic = false;
  const rise = last.meanReward - v0.meanReward;
  const ciSeparated = last.ratingCi && v0.ratingCi && last !== v0 ? last.ratingCi[0] > v0.ratingCi[1] : null;
  const budget = facts.rootKlBudget ?? null;
  const decisive = facts.decisiveVotes ?? null;
  return {
    promotedRounds: versions.length - 1,
    v0MeanReward: v0.meanReward,
    v0RewardStd: v0.rewardStd,
    lastVersion: last.name,
    lastMeanReward: last.meanReward,
    riseOverV0: rise,
    riseInV0Std: v0.rewardStd > 0 ? rise / v0.rewardStd : null,
    reachedHalfStd: v0.rewardStd > 0 ? rise >= 0.5 * v0.rewardStd : false,
    monotonic,
    lastMeanRewardT1: last.meanRewardT1 ?? null,
    riseT1OverV0: last.meanRewardT1 != null && v0.meanRewardT1 != null ? last.meanRewardT1 - v0.meanRewardT1 : null,
    lastSummedRewardRise: last.meanSummedReward != null && v0.meanSummedReward != null ? last.meanSummedReward - v0.meanSummedReward : null,
    lastKlFromRoot: last.klFromRoot ?? last.kl,
    lastKlFromRootStderr: last.klFromRootStderr ?? last.klStderr,
    rootKlBudget: budget,
    withinRootKlBudget: budget === null ? null : (last.klFromRoot ?? last.kl) <= budget,
    repetitionRateV0: v0.repetitionRate ?? null,
    repetitionRateLast: last.repetitionRate ?? null,
    repetitionWithin2xOfV0:
      v0.repetitionRate != null && last.repetitionRate != null ? last.repetitionRate <= 2 * Math.max(v0.repetitionRate, 1e-9) : null,
    heldoutCorpusLossV0: v0.heldoutCorpusLoss ?? null,
    heldoutCorpusLossLast: last.heldoutCorpusLoss ?? null,
    corpusLossWithin10PctOfV0:
      v0.heldoutCorpusLoss != null && last.heldoutCorpusLoss != null ? last.heldoutCorpusLoss <= 1.1 * v0.heldoutCorpusLoss : null,
    decisiveVotes: decisive,
    votesUntilFirstPromotion: facts.votesUntilFirstPromotion ?? null,
    // The served policy's rise over v0 per thousand decisive votes the training phase cast.
    gainPer1000DecisiveVotes: ratio(rise * 1000, decisive),
    gainInV0StdPer1000DecisiveVotes: v0.rewardStd > 0 ? ratio((rise / v0.rewardStd) * 1000, decisive) : null,
    lastAboveV0NonOverlappingCI: ciSeparated,
  };
}

export interface SeedStat {
  mean: number;
  /** standard error of the mean over seeds (null with one seed) */
  se: number | null;
  n: number;
  values: number[];
}

/** Mean ± s.e. over seeds of every numeric (or boolean, as a share) summary field. */
export function aggregateSeeds(summaries: Record<string, unknown>[]): Record<string, SeedStat> {
  const keys = new Set(summaries.flatMap((s) => Object.keys(s)));
  const out: Record<string, SeedStat> = {};
  for (const k of keys) {
    const values = summaries
      .map((s) => s[k])
      .map((v) => (typeof v === "boolean" ? Number(v) : v))
      .filter((v): v is number => typeof v === "number" && Number.isFinite(v));
    if (values.length === 0) continue;
    const n = values.length;
    const mean = values.reduce((a, x) => a + x, 0) / n;
    const se = n > 1 ? Math.sqrt(values.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1) / n) : null;
    out[k] = { mean, se, n, values };
  }
  return out;
}
