// Shared vocabulary of the rating library, in FastChat's clean_battle terms so that exported
// arena battles and LMSYS data go through the same code.

export type Outcome = "model_a" | "model_b" | "tie" | "tie (bothbad)";
export const OUTCOMES: readonly Outcome[] = ["model_a", "model_b", "tie", "tie (bothbad)"];

export interface BattleRecord {
  modelA: string;
  modelB: string;
  winner: Outcome;
  /** Seconds since the epoch (FastChat's `tstamp`); orders battles for online Elo. */
  tstamp?: number;
}

/** Shift all ratings so that `model` has `rating` (FastChat anchors mixtral-8x7b at 1114). */
export interface Anchor {
  model: string;
  rating: number;
}

/** FastChat's published constants (fastchat/serve/monitor). */
export const ELO_K = 4;
export const RATING_BASE = 10;
export const RATING_SCALE = 400;
export const INITIAL_RATING = 1000;

export function applyAnchor(models: readonly string[], ratings: Float64Array, anchor: Anchor | undefined): void {
  if (!anchor) return;
  const i = models.indexOf(anchor.model);
  if (i < 0) throw new Error(`anchor model "${anchor.model}" has no rated battles (known models: ${preview(models)})`);
  if (!Number.isFinite(anchor.rating)) throw new Error(`anchor rating for "${anchor.model}" must be a finite number`);
  const shift = anchor.rating - ratings[i];
  for (let k = 0; k < ratings.length; k++) ratings[k] += shift;
}

function preview(models: readonly string[]): string {
  return models.length <= 10 ? models.join(", ") : `${models.slice(0, 10).join(", ")}, … (${models.length} in all)`;
}
