// The leaderboard service: votes → rating battles → a cached snapshot, and who may see it.
export {
  currentVoteMark,
  loadRatingBattles,
  loadVotedBattles,
  readVotedBattles,
  type VoteCursor,
  type VotedBattle,
  type VoteMark,
  WINNER_OF_CHOICE,
} from "./battle-records.ts";
export {
  CACHE_SETTING_KEY,
  DEFAULT_MARK_MAX_AGE_MS,
  forgetLeaderboardMemory,
  getLeaderboard,
  type LeaderboardResult,
  leaderboardRefreshInFlight,
  readStoredSnapshot,
  refreshLeaderboard,
} from "./cache.ts";
export { BOOTSTRAP_ROUNDS, BOOTSTRAP_SEED, computeSnapshot, EARLY_DATA_L2, HISTORY_POINTS, type LeaderboardSnapshot } from "./snapshot.ts";
export { type NextRound, type VersionOverview, type VersionRow, versionOverview } from "./versions.ts";
export {
  assertCanViewLeaderboard,
  DEFAULT_VISIBILITY,
  getLeaderboardVisibility,
  type LeaderboardVisibility,
  leaderboardVisibilitySchema,
  setLeaderboardVisibility,
  VISIBILITY_SETTING_KEY,
} from "./visibility.ts";
