// Synthetic labelers: a known decision model on top of the ground-truth reward, so a
// simulation knows exactly how noisy its preference data is.
import { createRng, type Rng } from "../rating/random.ts";
import { isDegenerate } from "./repetition.ts";
import { type RewardKind, trueReward } from "./reward.ts";

export { createRng, type Rng };

export type Vote = "A" | "B" | "TIE";
/** What a labeler can click in the arena: a preference, a tie, or "both are bad". */
export type Judgement = Vote | "BOTH_BAD";

/**
 * How a careless labeler clicks without reading: "random" (A or B with probability ½),
 * "always-a" (the left answer every time) or "longer" (whichever completion is longer).
 */
export type CarelessKind = "random" | "always-a" | "longer";
export const CARELESS_KINDS: readonly CarelessKind[] = ["random", "always-a", "longer"];

export interface LabelerProfile {
  /** Bradley–Terry temperature in reward units: larger means noisier votes. Must be > 0. */
  temperature: number;
  /** |rA − rB| below this is a tie (the labeler cannot tell them apart). */
  tieThreshold: number;
  /** Ignores what the completions say (see `carelessKind`). */
  careless: boolean;
  /** how a careless labeler clicks; default "random" */
  carelessKind?: CarelessKind;
}

/** P(vote A | not careless, not a tie) = σ((rA − rB) / temperature). */
export function preferenceProbability(rewardA: number, rewardB: number, temperature: number): number {
  const z = (rewardA - rewardB) / temperature;
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/**
 * One vote. Careless labelers pick A or B with probability ½ each (never a tie, so their votes
 * all become training pairs — the harshest kind of noise). Otherwise a difference below the
 * tie threshold is a tie, and anything else a Bradley–Terry draw. Exactly one uniform is drawn
 * per call whatever the branch, so a seeded stream of decisions stays aligned when profiles
 * or rewards change.
 */
export function decide(rewardA: number, rewardB: number, labeler: LabelerProfile, rng: Rng): Vote {
  if (!Number.isFinite(rewardA) || !Number.isFinite(rewardB))
    throw new Error(`decide: rewards must be finite, got ${rewardA} and ${rewardB}`);
  if (!(labeler.temperature > 0) || !Number.isFinite(labeler.temperature)) {
    throw new Error(`decide: labeler temperature must be a positive number, got ${labeler.temperature}`);
  }
  if (!(labeler.tieThreshold >= 0)) throw new Error(`decide: labeler tieThreshold must be >= 0, got ${labeler.tieThreshold}`);
  const u = rng.next();
  if (labeler.careless) return labeler.carelessKind === "always-a" ? "A" : u < 0.5 ? "A" : "B";
  if (Math.abs(rewardA - rewardB) < labeler.tieThreshold) return "TIE";
  return u < preferenceProbability(rewardA, rewardB, labeler.temperature) ? "A" : "B";
}

export interface LabelerPoolOptions {
  count: number;
  /** Fraction of careless labelers, rounded to the nearest whole labeler (issue 8: 0.2). */
  carelessFraction?: number;
  /** how the careless ones click (default "random") */
  carelessKind?: CarelessKind;
  temperature: number;
  tieThreshold?: number;
  /**
   * Each labeler's temperature is temperature·exp(spread·N(0,1)): people differ in how
   * carefully they read. 0 (default) gives everyone the same temperature.
   */
  temperatureSpread?: number;
  seed?: number;
}

/** A reproducible pool of labelers; the careless ones are spread through the pool at random. */
export function createLabelerPool(opts: LabelerPoolOptions): LabelerProfile[] {
  const { count, temperature } = opts;
  const fraction = opts.carelessFraction ?? 0;
  if (!Number.isInteger(count) || count < 0) throw new Error(`createLabelerPool: count must be a non-negative integer, got ${count}`);
  if (!(fraction >= 0 && fraction <= 1)) throw new Error(`createLabelerPool: carelessFraction must be in [0, 1], got ${fraction}`);
  if (opts.carelessKind !== undefined && !CARELESS_KINDS.includes(opts.carelessKind))
    throw new Error(`createLabelerPool: carelessKind must be one of ${CARELESS_KINDS.join(", ")}, got ${String(opts.carelessKind)}`);
  const rng = createRng(opts.seed ?? 0);
  const careless = Math.round(count * fraction);
  const order = Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const spread = opts.temperatureSpread ?? 0;
  return order.map((slot) => {
    const gaussian = Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
    const profile: LabelerProfile = {
      temperature: temperature * Math.exp(spread * gaussian),
      tieThreshold: opts.tieThreshold ?? 0,
      careless: slot < careless,
    };
    return profile.careless && opts.carelessKind && opts.carelessKind !== "random"
      ? { ...profile, carelessKind: opts.carelessKind }
      : profile;
  });
}

export interface Judged {
  choice: Judgement;
  rewardA: number;
  rewardB: number;
}

/**
 * A labeler reading two completions. With the default "distinct" reward they read like people:
 * two degenerate texts (heavy repetition, see repetition.ts) are BOTH_BAD, and a degenerate text
 * against a readable one loses whatever its lexicon score. Everything else is `decide` on the
 * reward. Careless labelers ignore the texts, as before. With the old "summed" reward the
 * labeler counts words and nothing else, which is what lets a policy hack it. One uniform is
 * drawn per call on every branch, as in `decide`.
 */
export function judge(textA: string, textB: string, labeler: LabelerProfile, rng: Rng, kind: RewardKind = "distinct"): Judged {
  const rewardA = trueReward(textA, kind);
  const rewardB = trueReward(textB, kind);
  if (labeler.careless && labeler.carelessKind === "longer") {
    rng.next();
    return { choice: textA.length >= textB.length ? "A" : "B", rewardA, rewardB };
  }
  if (kind === "summed" || labeler.careless) return { choice: decide(rewardA, rewardB, labeler, rng), rewardA, rewardB };
  const badA = isDegenerate(textA);
  const badB = isDegenerate(textB);
  if (!badA && !badB) return { choice: decide(rewardA, rewardB, labeler, rng), rewardA, rewardB };
  rng.next();
  return { choice: badA && badB ? "BOTH_BAD" : badA ? "B" : "A", rewardA, rewardB };
}
