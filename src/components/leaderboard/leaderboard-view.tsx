// The leaderboard from a cached snapshot: no math happens here, only layout. Each section
// says in one sentence how to read it.
import type { LeaderboardResult } from "@/server/services/leaderboard/cache";
import type { VersionOverview } from "@/server/services/leaderboard/versions";
import { card } from "../ui";
import { LeaderboardAdminControls } from "./admin-controls";
import { LeaderboardAutoRefresh } from "./auto-refresh";
import { RatingHistoryChart, RatingIntervalChart } from "./charts";
import { WinHeatMap } from "./heat-map";
import { VersionsPanel } from "./versions-panel";

const fmt = (x: number, digits = 0) => x.toFixed(digits);

export function LeaderboardView({
  result,
  overview,
  isAdmin,
  visibility,
}: {
  result: LeaderboardResult;
  overview: VersionOverview;
  isAdmin: boolean;
  visibility: "public" | "labelers";
}) {
  const { snapshot, status, currentVotes } = result;
  const { board, history } = snapshot;
  const models = board.rows.map((r) => r.model);
  // Chart props travel to the browser in the page payload: one decimal is all a chart can show.
  const round1 = (x: number | null) => (x === null ? null : Math.round(x * 10) / 10);
  const historySeries = models.map((model) => ({ model, data: (history.bt[model] ?? []).map(round1) }));
  const updated = `${new Date(snapshot.computedAt).toISOString().replace("T", " ").slice(0, 19)} UTC`;

  return (
    <>
      <h1 className="text-2xl font-bold tracking-tight">Leaderboard</h1>
      <p className="mt-1 text-sm text-slate-600" data-testid="leaderboard-summary">
        {models.length === 0 ? (
          <>Nothing to rate yet (see Versions below)</>
        ) : (
          <>
            {board.totalBattles} rated battles among {models.length} versions
            {board.selfBattles > 0 && (
              <> · {board.selfBattles} self-battles (two samples of one version) train the model but do not count here</>
            )}
          </>
        )}{" "}
        · updated {updated}
        {status === "stale" && <> · {currentVotes - snapshot.mark.votes} newer votes are being added…</>}
      </p>
      <LeaderboardAutoRefresh stale={status === "stale"} computedAt={snapshot.computedAt} />
      {isAdmin && <LeaderboardAdminControls visibility={visibility} />}

      <VersionsPanel overview={overview} />
      {models.length === 0 ? (
        <section className={`${card} mt-6`}>
          <p className="text-sm text-slate-700" data-testid="no-ratings">
            No ratings yet: the ranking, win rates and charts appear here once labelers have voted on battles between two different
            versions.
          </p>
        </section>
      ) : (
        <>
          {snapshot.l2 !== null && (
            <p role="note" className="mt-4 rounded-md bg-amber-50 p-3 text-sm text-amber-900 ring-1 ring-amber-200">
              Early data: some version has not yet both won and lost (in all votes or in a bootstrap resample), so the plain
              maximum-likelihood fit FastChat uses would put it at infinity; these ratings add a small L2 penalty (λ = {snapshot.l2}) to
              stay finite, which pulls extreme ratings slightly toward 1000.
            </p>
          )}
          <section aria-labelledby="lb-table-heading" className={`${card} mt-6`}>
            <h2 id="lb-table-heading" className="text-lg font-semibold">
              Ranking
            </h2>
            <p className="mt-1 text-sm text-slate-600">
              Rating is the Bradley–Terry fit on all votes (a 100-point gap means the higher version wins about 64% of the time), the
              interval is its 95% bootstrap range, and rank 1 + the number of versions whose whole interval lies above this one, so versions
              with overlapping intervals share a rank.
            </p>
            <div className="mt-3 overflow-x-auto">
              <table className="w-full min-w-[36rem] text-sm" data-testid="leaderboard-table">
                <thead className="border-b border-slate-200 text-left text-xs uppercase text-slate-500">
                  <tr>
                    <th scope="col" className="py-2 pr-3">
                      Rank
                    </th>
                    <th scope="col" className="py-2 pr-3">
                      Version
                    </th>
                    <th scope="col" className="py-2 pr-3 text-right">
                      Rating
                    </th>
                    <th scope="col" className="py-2 pr-3 text-right">
                      95% CI
                    </th>
                    <th scope="col" className="py-2 pr-3 text-right">
                      Elo
                    </th>
                    <th scope="col" className="py-2 pr-3 text-right">
                      Battles
                    </th>
                    <th scope="col" className="py-2 text-right">
                      W / L / T
                    </th>
                  </tr>
                </thead>
                <tbody className="divide-y divide-slate-100 tabular-nums">
                  {board.rows.map((r) => (
                    <tr key={r.model} data-testid={`leaderboard-row-${r.model}`}>
                      <td className="py-2 pr-3 font-semibold">{r.rank}</td>
                      <th scope="row" className="py-2 pr-3 text-left font-semibold">
                        {r.model}
                      </th>
                      <td className="py-2 pr-3 text-right">{fmt(r.rating, 1)}</td>
                      <td className="py-2 pr-3 text-right text-slate-600">
                        +{fmt(r.ci[1] - r.rating)} / −{fmt(r.rating - r.ci[0])}
                      </td>
                      <td className="py-2 pr-3 text-right">{fmt(r.elo, 1)}</td>
                      <td className="py-2 pr-3 text-right">{r.battles}</td>
                      <td className="py-2 text-right">
                        {r.wins} / {r.losses} / {r.ties}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <p className="mt-2 text-xs text-slate-500">
              Elo is the online rating (K = 4) after replaying votes in time order; it depends on order, the Bradley–Terry rating does not.
              Ties include both-bad votes.
            </p>
          </section>

          <section aria-labelledby="lb-ci-heading" className={`${card} mt-6`}>
            <h2 id="lb-ci-heading" className="text-lg font-semibold">
              Ratings with confidence intervals
            </h2>
            <p className="mt-1 text-sm text-slate-600">
              Each bar spans a version&apos;s 95% interval and the dot is its rating; two versions whose bars do not overlap are clearly
              different.
            </p>
            <div className="mt-3">
              <RatingIntervalChart rows={board.rows.map(({ model, rating, ci }) => ({ model, rating, ci }))} />
            </div>
          </section>

          <section aria-labelledby="lb-heat-heading" className={`${card} mt-6`}>
            <h2 id="lb-heat-heading" className="text-lg font-semibold">
              Win rates
            </h2>
            <p className="mt-1 text-sm text-slate-600">
              Each cell is the share of decisive votes the row version won against the column version (ties left out): blue above 0.5, red
              below.
            </p>
            <div className="mt-3">
              <WinHeatMap models={models} winFraction={board.winFraction} battleCounts={board.battleCounts} />
            </div>
          </section>

          <section aria-labelledby="lb-history-heading" className={`${card} mt-6`}>
            <h2 id="lb-history-heading" className="text-lg font-semibold">
              Ratings over time
            </h2>
            <p className="mt-1 text-sm text-slate-600">
              Each line is a version&apos;s Bradley–Terry rating fitted on the votes up to that point, so a line starts when the version
              first played and flattens as evidence accumulates.
            </p>
            <div className="mt-3">
              <RatingHistoryChart battles={history.points.map((p) => p.battles)} series={historySeries} />
            </div>
          </section>
        </>
      )}
      <p className="mt-6 text-xs text-slate-500">
        Method: LMSYS FastChat&apos;s (Bradley–Terry with ties as half a win, {board.bootstrapRounds} seeded bootstrap rounds, online Elo K
        = 4), computed from {snapshot.mark.votes} votes in {snapshot.computeMs} ms and cached until new votes arrive.
      </p>
    </>
  );
}
