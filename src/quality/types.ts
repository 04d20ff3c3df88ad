// Plain data in and out of the labeler-quality models: no database ids beyond opaque strings.

/** What a labeler answered. BOTH_BAD and TIE both say "neither is better" (see NONE below). */
export type Answer = "A" | "B" | "TIE" | "BOTH_BAD";

/**
 * One vote on one item. An item is one pair of completions of one prompt shown in one order
 * (the arena's overlap copies a pair in the same order, so A means the same text for everyone).
 */
export interface QualityVote {
  labeler: string;
  item: string;
  answer: Answer;
}

/** A known answer for an item (a gold pair). Votes on it are checked against it, not estimated. */
export interface GoldAnswer {
  item: string;
  answer: "A" | "B" | "TIE";
}

/**
 * The model's three classes. TIE and BOTH_BAD are one class: for training and for agreement
 * both mean "no preference", and two careful labelers often split between them on the same pair.
 */
export const CLASSES = ["A", "B", "NONE"] as const;
export type PreferenceClass = (typeof CLASSES)[number];
export const CLASS_A = 0;
export const CLASS_B = 1;
export const CLASS_NONE = 2;

export function classOf(answer: Answer): number {
  return answer === "A" ? CLASS_A : answer === "B" ? CLASS_B : CLASS_NONE;
}

export interface Interval {
  estimate: number;
  lower: number;
  upper: number;
}

export interface LabelerQuality {
  labeler: string;
  votes: number;
  /** votes that said A or B (the ones that would become training pairs) */
  decisiveVotes: number;
  /** votes on items someone else also voted on */
  overlappingVotes: number;
  /** votes on items with another labeler's vote or a gold answer: the only ones that say anything about this labeler */
  informativeVotes: number;
  /**
   * Effective number of checked votes behind the flip-rate interval: each informative decisive
   * vote counts by how well the others (or gold) pinned the pair's answer without it.
   */
  evidence: number;
  /**
   * How far above chance the labeler sides with the others' (or gold's) answer, in standard
   * errors: about 0 for a random or fixed-side clicker, large for a careful labeler.
   */
  aboveChance: number;
  /**
   * Competence θ: the share of votes where the labeler judged the pair rather than answered from
   * their own habit (MACE's "not spamming"); 0 is a random or fixed clicker, 1 always agrees with
   * the pair's answer. Interval at the fit's level (default 95%).
   */
  reliability: Interval;
  /**
   * ε: probability that a decisive vote on a pair that has a preference points the wrong way,
   * the label-flip rate the `robust` DPO loss takes. 0.5 is a coin flip.
   */
  flipRate: Interval;
  /** the labeler's answer habit when not judging (A, B, NONE), MACE's spamming distribution */
  habit: { A: number; B: number; NONE: number };
  /** raw share of agreement with other labelers on shared items (TIE ≡ BOTH_BAD) */
  agreement: { agree: number; compared: number; rate: number | null };
  /** raw accuracy on gold items (TIE ≡ BOTH_BAD) */
  gold: { correct: number; total: number; accuracy: number | null };
  /**
   * "no-evidence": too few checked votes to judge (the estimates are the prior's);
   * "chance": siding with the others' answer no more often than a coin flip would, at the fit's
   * level (aboveChance below the two-sided normal quantile, 1.96 at 95%); null otherwise.
   */
  flag: "no-evidence" | "chance" | null;
}

export interface ItemPosterior {
  item: string;
  /** posterior over (A, B, NONE) */
  probabilities: [number, number, number];
  gold: boolean;
  votes: number;
}

/** Enough to warm-start the next fit: per-labeler parameters and the class prior. */
export interface QualityState {
  classPrior: [number, number, number];
  labelers: Record<string, { competence: number; habit: [number, number, number] }>;
}

export interface QualityFit {
  labelers: LabelerQuality[];
  items: ItemPosterior[];
  /**
   * Per input vote (same order): posterior probability that the vote's class is the pair's true
   * class. The per-pair weight training can use; votes on gold items get 1 or 0, ignored
   * duplicates 0.
   */
  voteCorrect: Float64Array;
  /** decisive-vote-weighted mean of the labelers' flip rates: the ε to give the robust loss */
  flipRate: Interval & { decisiveVotes: number };
  classPrior: { A: number; B: number; NONE: number };
  iterations: number;
  converged: boolean;
  /** duplicate (labeler, item) votes after the first, ignored */
  ignoredDuplicates: number;
  state: QualityState;
}
