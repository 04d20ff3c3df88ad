"use client";
// What "Start a round now" is judged by: trainable and held-out votes against the settings, and
// an explicit confirmation to start below them (such a round cannot pass its gates; its votes
// return to the pool).
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { describeError, useTRPC } from "@/trpc/react";
import { buttonDanger, buttonPrimary, buttonSecondary } from "../../ui";

export function StartRound({ onStarted }: { onStarted: (roundId: string) => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const readiness = useQuery({ ...trpc.rounds.readiness.queryOptions(), refetchInterval: 5000 });
  const [confirming, setConfirming] = useState(false);
  const trigger = useMutation(
    trpc.rounds.trigger.mutationOptions({
      onSuccess: (r) => {
        setConfirming(false);
        onStarted(r.round.id);
        return queryClient.invalidateQueries({ queryKey: trpc.rounds.pathKey() });
      },
    }),
  );
  const r = readiness.data;
  const n = (x: number) => x.toLocaleString("en-US");
  // Judge by fresh counts, not the last poll's: votes keep arriving.
  const start = async () => {
    const fresh = (await readiness.refetch()).data;
    if (fresh && !fresh.ready) setConfirming(true);
    else trigger.mutate({});
  };
  return (
    <div className="mt-2 space-y-2" data-testid="round-readiness">
      <div className="flex flex-wrap items-center justify-between gap-2">
        {r ? (
          <p className="text-sm text-slate-600">
            <span data-testid="trainable-votes">
              {n(r.counts.fresh)} of {n(r.minNewPairs)} new votes
            </span>{" "}
            (a round also takes the {n(r.counts.returned)} returned from rounds that were not kept
            {r.counts.versus ? `; ${n(r.counts.versus)} of all these from serving-vs-earlier battles` : ""}) ·{" "}
            <span data-testid="heldout-votes" className={r.enoughHeldout ? "" : "font-medium text-amber-800"}>
              {n(r.counts.heldout)} of {n(r.minHeldoutPairs)} held-out votes
            </span>
          </p>
        ) : (
          <p className="text-sm text-slate-500">{readiness.error ? describeError(readiness.error).message : "Counting votes…"}</p>
        )}
        <button type="button" className={buttonPrimary} disabled={trigger.isPending || confirming} onClick={() => void start()}>
          Start a round now
        </button>
      </div>
      {r && !r.enoughHeldout && !confirming && (
        <p className="text-sm text-amber-800" role="note">
          The held-out set is small: with fewer than {n(r.minHeldoutPairs)} held-out votes a round cannot show that it improved, so it will
          not be served.
        </p>
      )}
      {confirming && r && (
        <div
          role="alertdialog"
          aria-labelledby="confirm-round-title"
          className="rounded-md border border-amber-300 bg-amber-50 p-3 text-sm"
        >
          <p id="confirm-round-title" className="font-medium text-amber-900">
            Not ready for a round
          </p>
          <ul className="mt-1 list-disc pl-5 text-amber-900">
            {r.reasons.map((reason) => (
              <li key={reason}>{reason}</li>
            ))}
          </ul>
          <div className="mt-2 flex gap-2">
            <button type="button" className={buttonDanger} disabled={trigger.isPending} onClick={() => trigger.mutate({ force: true })}>
              Start anyway
            </button>
            <button type="button" className={buttonSecondary} onClick={() => setConfirming(false)}>
              Keep waiting
            </button>
          </div>
        </div>
      )}
      {trigger.error && (
        <p role="alert" className="text-sm text-red-700">
          {describeError(trigger.error).message}
        </p>
      )}
    </div>
  );
}

/** The drift budget from the lineage root: spent and left, and what to do when it is spent. */
export function DriftBudget() {
  const trpc = useTRPC();
  const readiness = useQuery({ ...trpc.rounds.readiness.queryOptions(), refetchInterval: 5000 });
  const d = readiness.data?.drift;
  if (!d?.serving) return null;
  const root = d.root?.name ?? "the root";
  if (d.budget === null)
    return (
      <p className="mt-3 text-sm text-slate-600" data-testid="drift-budget">
        Drift budget from {root}: off (no limit on how far the served policy moves).
      </p>
    );
  const share = d.spent === null ? 0 : Math.min(1, d.spent / d.budget);
  return (
    <div className="mt-3 text-sm" data-testid="drift-budget" data-exhausted={d.exhausted}>
      <p className="text-slate-700">
        Drift of {d.serving.name} from {root}:{" "}
        {d.spent === null ? (
          <>not measured (its round predates the measurement); budget {d.budget} nats</>
        ) : (
          <>
            <span title={`upper bound ${d.spent}; estimate ${d.estimate}`}>{d.spent.toFixed(1)}</span> of {d.budget} nats spent,{" "}
            <span data-testid="drift-left">{(d.left ?? 0).toFixed(1)} left</span>
            {d.measuredBy !== null ? ` (measured by round ${d.measuredBy}, upper bound)` : ""}
          </>
        )}
      </p>
      <div className="mt-1 h-2 w-full max-w-md rounded bg-slate-100" aria-hidden="true">
        <div className={`h-2 rounded ${d.exhausted ? "bg-red-500" : "bg-indigo-500"}`} style={{ width: `${share * 100}%` }} />
      </div>
      {d.exhausted && (
        <p role="alert" className="mt-2 text-red-800">
          The drift budget is spent, so rounds are not started automatically and none will be served. {d.advice}
        </p>
      )}
    </div>
  );
}
