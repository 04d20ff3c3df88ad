// Public API of the rating library: FastChat-compatible online Elo, Bradley–Terry with
// bootstrap confidence intervals, pairwise matrices, and the clean_battle format.
export type { Anchor, BattleRecord, Outcome } from "./types.ts";
export { OUTCOMES, ELO_K, RATING_BASE, RATING_SCALE, INITIAL_RATING } from "./types.ts";
export { dedupBattles, type BattleCells } from "./cells.ts";
export { onlineElo, type EloOptions } from "./elo.ts";
export { fitBradleyTerry, type BradleyTerryFit, type BradleyTerryOptions } from "./bradley-terry.ts";
export { bootstrap, quantile, rankFromIntervals, type BootstrapOptions, type BootstrapResult } from "./bootstrap.ts";
export { pairwiseMatrices, tallyByModel, type ModelTally, type PairwiseMatrices } from "./matrices.ts";
export { leaderboard, type Leaderboard, type LeaderboardRow } from "./leaderboard.ts";
export { parseCleanBattles, toCleanBattleLines } from "./clean-battles.ts";
export { createRng, type Rng } from "./random.ts";
export { ratingHistory, type RatingHistory, type RatingHistoryOptions } from "./history.ts";
