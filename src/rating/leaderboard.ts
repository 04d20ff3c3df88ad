// Everything a leaderboard page shows, computed once and returned as plain JSON-safe data so
// the server can cache it (memory, a table, a file) and a page renders it without any math.
import { type BootstrapOptions, bootstrap } from "./bootstrap.ts";
import { dedupBattles } from "./cells.ts";
import { onlineElo } from "./elo.ts";
import { pairwiseMatrices, tallyByModel } from "./matrices.ts";
import type { Anchor, BattleRecord } from "./types.ts";

export interface LeaderboardRow {
  model: string;
  /** Bradley–Terry rating fitted on all battles (the headline number, as on LMSYS). */
  rating: number;
  /** Online Elo after replaying the battles in time order. */
  elo: number;
  /** Bootstrap 95% interval of `rating`. */
  ci: [number, number];
  rank: number;
  battles: number;
  wins: number;
  losses: number;
  /** Ties and both-bad. */
  ties: number;
}

export interface Leaderboard {
  /** Sorted by rating, best first. */
  rows: LeaderboardRow[];
  /** Heat-map data in the order of `rows`. */
  winFraction: (number | null)[][];
  battleCounts: number[][];
  /** Battles that counted (self-battles excluded). */
  totalBattles: number;
  selfBattles: number;
  bootstrapRounds: number;
  seed: number;
  anchor: Anchor | null;
  /** Whether the full-data Bradley–Terry fit reached the gradient tolerance (false: some model never lost or never won). */
  converged: boolean;
  /** Bootstrap rounds whose resample had no finite maximum (wide intervals for a sparse model). */
  unconvergedRounds: number;
}

export function leaderboard(battles: readonly BattleRecord[], opts: BootstrapOptions = {}): Leaderboard {
  const cells = dedupBattles(battles);
  const boot = bootstrap(cells, opts);
  const elo = onlineElo(battles);
  const tally = tallyByModel(cells);
  const rows: LeaderboardRow[] = cells.models.map((model, i) => ({
    model,
    rating: boot.ratings[model],
    elo: elo[model],
    ci: boot.ci[model],
    rank: boot.rank[model],
    ...tally[i],
  }));
  rows.sort((x, y) => y.rating - x.rating || (x.model < y.model ? -1 : 1));
  const matrices = pairwiseMatrices(
    cells,
    rows.map((r) => r.model),
  );
  return {
    rows,
    winFraction: matrices.winFraction,
    battleCounts: matrices.battleCounts,
    totalBattles: cells.total,
    selfBattles: cells.selfBattles,
    bootstrapRounds: boot.rounds,
    seed: opts.seed ?? 0,
    anchor: opts.anchor ?? null,
    converged: boot.fitConverged,
    unconvergedRounds: boot.unconvergedRounds,
  };
}
