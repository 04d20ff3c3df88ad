// Ratings over time, for the leaderboard's "rating of each version over time" chart: online
// Elo and the Bradley–Terry fit on all battles so far, at evenly spaced points of the
// chronological battle stream. One pass to count, one small warm-started fit per point.
import { type BradleyTerryOptions, fitTheta } from "./bradley-terry.ts";
import { dedupBattles } from "./cells.ts";
import { chronological } from "./elo.ts";
import { type BattleRecord, ELO_K, INITIAL_RATING, RATING_BASE, RATING_SCALE } from "./types.ts";

export interface RatingHistoryOptions extends BradleyTerryOptions {
  /** Number of snapshots (default 20); the last one is always after the final battle. */
  points?: number;
}

export interface RatingHistory {
  /** Per snapshot: rated battles replayed so far and the tstamp of the last of them. */
  points: { battles: number; tstamp: number | null }[];
  /** Per model, its online Elo at each snapshot (null before its first rated battle). */
  elo: Record<string, (number | null)[]>;
  /** Per model, the Bradley–Terry rating on all battles up to each snapshot (null before its first). */
  bt: Record<string, (number | null)[]>;
}

const LN_BASE = Math.log(RATING_BASE);

/**
 * Snapshots are centred on 1000 over the models seen so far; with an anchor, from the first
 * snapshot in which the anchor model has played (earlier ones stay centred). Early snapshots
 * often have models that never lost; pass `l2` (e.g. 1e-3) to keep their ratings finite.
 */
export function ratingHistory(battles: readonly BattleRecord[], opts: RatingHistoryOptions = {}): RatingHistory {
  const requested = opts.points ?? 20;
  if (!Number.isInteger(requested) || requested < 1) throw new Error(`ratingHistory: points must be a positive integer, got ${requested}`);
  const cells = dedupBattles(battles);
  const m = cells.models.length;
  const index = new Map(cells.models.map((name, i) => [name, i]));
  const pairOf = new Int32Array(m * m).fill(-1);
  for (let q = 0; q < cells.pairI.length; q++) pairOf[cells.pairI[q] * m + cells.pairJ[q]] = q;

  const rated = Array.from(chronological(battles)).filter((r) => battles[r].modelA !== battles[r].modelB);
  const total = rated.length;
  const snapshots = Math.min(requested, Math.max(total, 1));
  const cut = Array.from({ length: snapshots }, (_, k) => Math.round(((k + 1) * total) / snapshots));

  const counts = new Float64Array(cells.counts.length);
  const elo = new Float64Array(m).fill(INITIAL_RATING);
  const seen = new Uint8Array(m);
  let theta: Float64Array | undefined;
  const out: RatingHistory = { points: [], elo: {}, bt: {} };
  for (const name of cells.models) {
    out.elo[name] = [];
    out.bt[name] = [];
  }
  let next = 0;
  for (let k = 0; k < snapshots; k++) {
    for (; next < cut[k]; next++) {
      const b = battles[rated[next]];
      const a = index.get(b.modelA)!,
        c = index.get(b.modelB)!;
      seen[a] = seen[c] = 1;
      const score = b.winner === "model_a" ? 1 : b.winner === "model_b" ? 0 : 0.5;
      const update = ELO_K * (score - 1 / (1 + Math.exp(((elo[c] - elo[a]) / RATING_SCALE) * LN_BASE)));
      elo[a] += update;
      elo[c] -= update;
      const [i, j, o] = a < c ? [a, c, score === 1 ? 0 : score === 0 ? 1 : 2] : [c, a, score === 1 ? 1 : score === 0 ? 0 : 2];
      counts[3 * pairOf[i * m + j] + o]++;
    }
    const fit = fitTheta(cells, counts, theta, opts);
    theta = fit.theta;
    const ratings = snapshotRatings(cells.models, theta, seen, opts);
    const last = next > 0 ? battles[rated[next - 1]].tstamp : undefined;
    out.points.push({ battles: next, tstamp: typeof last === "number" ? last : null });
    cells.models.forEach((name, i) => {
      out.elo[name].push(seen[i] ? elo[i] : null);
      out.bt[name].push(seen[i] ? ratings[i] : null);
    });
  }
  return out;
}

function snapshotRatings(models: string[], theta: Float64Array, seen: Uint8Array, opts: RatingHistoryOptions): Float64Array {
  // Models that have not played yet sit in the fit with no data; leave them out of the centring.
  let sum = 0,
    n = 0;
  for (let i = 0; i < theta.length; i++) if (seen[i]) (sum += theta[i]), n++;
  const shift = n ? sum / n : 0;
  const r = new Float64Array(theta.length);
  for (let i = 0; i < theta.length; i++) r[i] = RATING_SCALE * (theta[i] - shift) + INITIAL_RATING;
  const anchor = opts.anchor;
  if (anchor) {
    const a = models.indexOf(anchor.model);
    if (a < 0) throw new Error(`anchor model "${anchor.model}" has no rated battles`);
    if (seen[a]) {
      const d = anchor.rating - r[a];
      for (let i = 0; i < r.length; i++) r[i] += d;
    }
  }
  return r;
}
