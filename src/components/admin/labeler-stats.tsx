"use client";
// Per-labeler speed and quality, agreement on overlapping items, and votes per day.
import { useQuery } from "@tanstack/react-query";
import { describeError, useTRPC } from "@/trpc/react";
import { card } from "../ui";
import { BarChart } from "./charts";

const pct = (x: number | null) => (x === null ? "—" : `${Math.round(x * 100)}%`);
const kappa = (x: number | null) => (x === null ? "—" : x.toFixed(2));
const secs = (ms: number | null) => (ms === null ? "—" : `${(ms / 1000).toFixed(1)} s`);

export function LabelerStats() {
  const trpc = useTRPC();
  const report = useQuery({ ...trpc.stats.labelers.queryOptions(), refetchInterval: 15_000 });
  const perDay = useQuery({ ...trpc.stats.votesPerDay.queryOptions({ days: 30 }), refetchInterval: 30_000 });
  const r = report.data;

  return (
    <div className="mt-4 space-y-6">
      <section aria-labelledby="per-day-heading" className={card}>
        <h2 id="per-day-heading" className="text-lg font-semibold">
          Votes per day
        </h2>
        {perDay.data && (
          <BarChart
            label="Votes per day over the last 30 days"
            labels={perDay.data.map((d) => d.day.slice(5))}
            series={[
              { name: "decisive (A/B)", data: perDay.data.map((d) => d.decisive) },
              { name: "tie / both bad", data: perDay.data.map((d) => d.votes - d.decisive) },
            ]}
          />
        )}
      </section>

      <section aria-labelledby="labelers-heading" className={card}>
        <h2 id="labelers-heading" className="text-lg font-semibold">
          Labelers
        </h2>
        {report.error && (
          <p role="alert" className="mt-2 text-sm text-red-700">
            {describeError(report.error).message}
          </p>
        )}
        {r && (
          <>
            <p className="mt-1 text-sm text-slate-600" data-testid="fleiss">
              Fleiss&apos; κ over {r.fleissKappa.items} overlapping item{r.fleissKappa.items === 1 ? "" : "s"}:{" "}
              <span className="font-semibold">{kappa(r.fleissKappa.kappa)}</span>
            </p>
            <div className="mt-3 overflow-x-auto">
              <table className="w-full min-w-[640px] text-left text-sm" data-testid="labeler-table">
                <thead className="text-xs text-slate-500">
                  <tr>
                    <th className="py-1 pr-3">Labeler</th>
                    <th className="py-1 pr-3">Votes (today)</th>
                    <th className="py-1 pr-3">Skipped</th>
                    <th className="py-1 pr-3">Median time to vote</th>
                    <th className="py-1 pr-3">Tie rate</th>
                    <th className="py-1 pr-3">Both bad</th>
                    <th className="py-1 pr-3">Agrees with majority</th>
                    <th className="py-1 pr-3">Mean Cohen&apos;s κ</th>
                    <th className="py-1">Gold accuracy</th>
                  </tr>
                </thead>
                <tbody>
                  {r.labelers.map((l) => (
                    <tr key={l.labelerId} className="border-t border-slate-100" data-testid={`labeler-${l.username}`}>
                      <td className="py-1 pr-3 font-medium">
                        {l.username}
                        {l.disabled && <span className="ml-1 text-xs text-slate-400">(disabled)</span>}
                        {l.excluded && <span className="ml-1 text-xs text-amber-700">(excluded)</span>}
                      </td>
                      <td className="py-1 pr-3">
                        {l.votes} ({l.votesToday})
                      </td>
                      <td className="py-1 pr-3">{l.skipped}</td>
                      <td className="py-1 pr-3">{secs(l.medianMsToVote)}</td>
                      <td className="py-1 pr-3">{pct(l.tieRate)}</td>
                      <td className="py-1 pr-3">{pct(l.bothBadRate)}</td>
                      <td className="py-1 pr-3">
                        {pct(l.majorityAgreement.rate)} <span className="text-xs text-slate-400">of {l.majorityAgreement.compared}</span>
                      </td>
                      <td className="py-1 pr-3">{kappa(l.meanCohenKappa)}</td>
                      <td className="py-1" data-testid="gold-accuracy">
                        {pct(l.gold.accuracy)} <span className="text-xs text-slate-400">of {l.gold.total}</span>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            {r.cohenPairs.length > 0 && (
              <details className="mt-3 text-sm">
                <summary className="cursor-pointer text-slate-700">Cohen&apos;s κ per pair of labelers ({r.cohenPairs.length})</summary>
                <ul className="mt-2 space-y-1">
                  {r.cohenPairs.map((p) => (
                    <li key={`${p.a}-${p.b}`}>
                      {p.a} × {p.b}: <span className="font-semibold">{kappa(p.kappa)}</span> on {p.shared} item{p.shared === 1 ? "" : "s"}
                    </li>
                  ))}
                </ul>
              </details>
            )}
          </>
        )}
        <p className="mt-3 text-xs text-slate-500">
          Create, disable and reset labelers on the Accounts tab. Overlapping items are battles on the same prompt with the same two
          completions.
        </p>
      </section>
    </div>
  );
}
