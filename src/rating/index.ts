// Public API of the rating library: FastChat-compatible online Elo, Bradley–Terry with
// bootstrap confidence intervals, pairwise matrices, and the clean_battle format.

export { type BootstrapOptions, type BootstrapResult, bootstrap, quantile, rankFromIntervals } from "./bootstrap.ts";
export { type BradleyTerryFit, type BradleyTerryOptions, fitBradleyTerry } from "./bradley-terry.ts";
export { type BattleCells, dedupBattles } from "./cells.ts";
export { parseCleanBattles, toCleanBattleLines } from "./clean-battles.ts";
export { type EloOptions, onlineElo } from "./elo.ts";
export { type RatingHistory, type RatingHistoryOptions, ratingHistory } from "./history.ts";
export { type Leaderboard, type LeaderboardRow, leaderboard } from "./leaderboard.ts";
export { type ModelTally, type PairwiseMatrices, pairwiseMatrices, tallyByModel } from "./matrices.ts";
export { createRng, type Rng } from "./random.ts";
export type { Anchor, BattleRecord, Outcome } from "./types.ts";
export { ELO_K, INITIAL_RATING, OUTCOMES, RATING_BASE, RATING_SCALE } from "./types.ts";
