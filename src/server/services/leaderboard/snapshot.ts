// The leaderboard as computed once from all votes: the rating library's output plus what it
// was computed at. Plain JSON, so it can live in memory and in a Setting row alike.
import { type BattleRecord, type Leaderboard, leaderboard, type RatingHistory, ratingHistory } from "../../../rating/index.ts";
import type { VoteMark } from "./battle-records.ts";

/** FastChat's method: 100 bootstrap rounds; a fixed seed so every replica shows the same intervals. */
export const BOOTSTRAP_ROUNDS = 100;
export const BOOTSTRAP_SEED = 42;
/**
 * Penalty used only when the plain MLE does not exist (a version unbeaten or never winning,
 * in the full data or in a bootstrap resample): small enough to leave well-fitted ratings
 * within a few points, large enough to keep an unbeaten version's rating finite.
 */
export const EARLY_DATA_L2 = 1e-3;
export const HISTORY_POINTS = 30;
export const SNAPSHOT_FORMAT = 1;

export interface LeaderboardSnapshot {
  format: typeof SNAPSHOT_FORMAT;
  mark: VoteMark;
  computedAt: string;
  computeMs: number;
  /** null: the plain Bradley–Terry MLE (FastChat); a number: the L2 penalty that kept it finite. */
  l2: number | null;
  board: Leaderboard;
  /** Ratings over time; always fitted with EARLY_DATA_L2 because early prefixes have unbeaten versions. */
  history: RatingHistory;
}

export function computeSnapshot(battles: readonly BattleRecord[], mark: VoteMark): LeaderboardSnapshot {
  const started = performance.now();
  const options = { rounds: BOOTSTRAP_ROUNDS, seed: BOOTSTRAP_SEED };
  let board = leaderboard(battles, options);
  let l2: number | null = null;
  if (!board.converged || board.unconvergedRounds > 0) {
    l2 = EARLY_DATA_L2;
    board = leaderboard(battles, { ...options, l2 });
  }
  const history = ratingHistory(battles, { points: HISTORY_POINTS, l2: EARLY_DATA_L2 });
  return {
    format: SNAPSHOT_FORMAT,
    mark,
    computedAt: new Date().toISOString(),
    computeMs: Math.round(performance.now() - started),
    l2,
    board,
    history,
  };
}

/** A stored row written by other code (or an older format) is treated as no cache at all. */
export function parseStoredSnapshot(value: unknown): LeaderboardSnapshot | null {
  if (typeof value !== "object" || value === null) return null;
  const s = value as Partial<LeaderboardSnapshot>;
  if (s.format !== SNAPSHOT_FORMAT || typeof s.mark?.votes !== "number" || !Array.isArray(s.board?.rows) || typeof s.history !== "object")
    return null;
  return s as LeaderboardSnapshot;
}
