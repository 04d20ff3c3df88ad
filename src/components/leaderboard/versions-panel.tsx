// Every policy version with its status and battles, and the progress toward the next training
// round. Shown even when nothing can be rated yet: that is when a newcomer needs it most.
import type { VersionOverview } from "@/server/services/leaderboard/versions";
import { card } from "../ui";

const STATUS: Record<string, { label: string; tone: string }> = {
  SERVING: { label: "Serving", tone: "bg-green-50 text-green-800 ring-green-200" },
  CANDIDATE: { label: "Candidate", tone: "bg-sky-50 text-sky-800 ring-sky-200" },
  RETIRED: { label: "Retired", tone: "bg-slate-50 text-slate-700 ring-slate-200" },
  REJECTED: { label: "Rejected by its gates", tone: "bg-red-50 text-red-800 ring-red-200" },
  EXTERNAL: { label: "External contestant", tone: "bg-amber-50 text-amber-800 ring-amber-200" },
};

const count = (n: number) => n.toLocaleString("en-US");

export function VersionsPanel({ overview }: { overview: VersionOverview }) {
  const { versions, nextRound } = overview;
  const rated = versions.filter((v) => v.rated > 0).length;
  return (
    <section aria-labelledby="lb-versions-heading" className={`${card} mt-6`} data-testid="versions-panel">
      <h2 id="lb-versions-heading" className="text-lg font-semibold">
        Versions
      </h2>
      <p className="mt-1 text-sm text-slate-600">
        A rating says how often one version beats another, so it needs votes on battles between two different versions; battles of two
        samples of the same version train the model but cannot rate it.
        {rated < 2 && " Versus battles start once a training round has put a second version into service."}
      </p>
      {nextRound && <NextRoundProgress votes={nextRound.votes} threshold={nextRound.threshold} />}
      <div className="mt-3 overflow-x-auto">
        <table className="w-full min-w-[28rem] text-sm" data-testid="versions-table">
          <thead className="border-b border-slate-200 text-left text-xs uppercase text-slate-500">
            <tr>
              <th scope="col" className="py-2 pr-3">
                Version
              </th>
              <th scope="col" className="py-2 pr-3">
                Status
              </th>
              <th scope="col" className="py-2 pr-3 text-right" title="voted battles against a different version">
                Rated battles
              </th>
              <th scope="col" className="py-2 text-right" title="voted battles of two samples of this version (training data)">
                Self-battles
              </th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100 tabular-nums">
            {versions.map((v) => {
              const s = STATUS[v.status] ?? { label: v.status.toLowerCase(), tone: "bg-slate-50 text-slate-700 ring-slate-200" };
              return (
                <tr key={v.name} data-testid={`version-row-${v.name}`}>
                  <th scope="row" className="py-2 pr-3 text-left font-semibold">
                    {v.name}
                  </th>
                  <td className="py-2 pr-3">
                    <span className={`rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${s.tone}`}>{s.label}</span>
                  </td>
                  <td className="py-2 pr-3 text-right">{count(v.rated)}</td>
                  <td className="py-2 text-right">{count(v.self)}</td>
                </tr>
              );
            })}
            {versions.length === 0 && (
              <tr>
                <td colSpan={4} className="py-2 text-slate-500">
                  No policy version is registered yet: the server registers the house model as v0 when it starts.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function NextRoundProgress({ votes, threshold }: { votes: number; threshold: number | null }) {
  if (threshold === null) {
    return (
      <p className="mt-3 text-sm text-slate-700" data-testid="next-round">
        {count(votes)} new A/B votes are waiting for training; automatic rounds are off, so an admin starts the next one.
      </p>
    );
  }
  const share = Math.min(1, votes / threshold);
  return (
    <div className="mt-3" data-testid="next-round">
      <p className="text-sm text-slate-700">
        Next training round:{" "}
        <span className="font-semibold tabular-nums">
          {count(votes)} of {count(threshold)} votes
        </span>
        <span className="text-slate-500"> (new A-or-B votes on battles of the serving version; ties and both-bad do not count)</span>
        {votes >= threshold && <span className="text-slate-500"> · due now</span>}
      </p>
      <div
        className="mt-1 h-2 w-full overflow-hidden rounded-full bg-slate-100"
        role="progressbar"
        aria-label="Votes toward the next training round"
        aria-valuemin={0}
        aria-valuemax={threshold}
        aria-valuenow={Math.min(votes, threshold)}
      >
        <div className="h-full rounded-full bg-indigo-500" style={{ width: `${(share * 100).toFixed(1)}%` }} />
      </div>
    </div>
  );
}
