// The leaderboard service: votes → rating battles → a cached snapshot, and who may see it.
export { WINNER_OF_CHOICE, currentVoteMark, loadRatingBattles, loadVotedBattles, readVotedBattles, type VoteCursor, type VoteMark, type VotedBattle } from "./battle-records.ts";
export { BOOTSTRAP_ROUNDS, BOOTSTRAP_SEED, EARLY_DATA_L2, HISTORY_POINTS, computeSnapshot, type LeaderboardSnapshot } from "./snapshot.ts";
export { CACHE_SETTING_KEY, DEFAULT_MARK_MAX_AGE_MS, forgetLeaderboardMemory, getLeaderboard, leaderboardRefreshInFlight, readStoredSnapshot, refreshLeaderboard, type LeaderboardResult } from "./cache.ts";
export {
  DEFAULT_VISIBILITY,
  VISIBILITY_SETTING_KEY,
  assertCanViewLeaderboard,
  getLeaderboardVisibility,
  leaderboardVisibilitySchema,
  setLeaderboardVisibility,
  type LeaderboardVisibility,
} from "./visibility.ts";
export { versionOverview, type NextRound, type VersionOverview, type VersionRow } from "./versions.ts";
