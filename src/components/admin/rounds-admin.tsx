"use client";
// Training rounds (the loop's `rounds` router): list with status, live curves of the selected
// round while it runs, trigger / cancel; policy versions with promote and roll back.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { describeError, useTRPC } from "@/trpc/react";
import { buttonDanger, buttonPrimary, buttonSecondary, card } from "../ui";
import { LineChart } from "./charts";

const ACTIVE = new Set(["QUEUED", "RUNNING"]);
const STATUS_STYLE: Record<string, string> = {
  QUEUED: "bg-amber-100 text-amber-800",
  RUNNING: "bg-blue-100 text-blue-800",
  SUCCEEDED: "bg-green-100 text-green-800",
  REJECTED: "bg-orange-100 text-orange-800",
  FAILED: "bg-red-100 text-red-800",
  CANCELLED: "bg-slate-100 text-slate-600",
};

export function RoundsAdmin() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const rounds = useQuery({ ...trpc.rounds.list.queryOptions({ limit: 50 }), refetchInterval: 3000 });
  const [selected, setSelected] = useState<string | null>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.rounds.pathKey() });
  const trigger = useMutation(trpc.rounds.trigger.mutationOptions({ onSuccess: (r) => (setSelected(r.round.id), refresh()) }));
  const cancel = useMutation(trpc.rounds.cancel.mutationOptions({ onSuccess: refresh }));
  const selectedId = selected ?? rounds.data?.[0]?.id ?? null;
  const actionError = trigger.error ?? cancel.error;

  return (
    <div className="mt-4 space-y-6">
      <section aria-labelledby="rounds-heading" className={card}>
        <div className="flex flex-wrap items-center justify-between gap-2">
          <h2 id="rounds-heading" className="text-lg font-semibold">
            Rounds
          </h2>
          <button type="button" className={buttonPrimary} disabled={trigger.isPending} onClick={() => trigger.mutate({})}>
            Start a round now
          </button>
        </div>
        {actionError && (
          <p role="alert" className="mt-2 text-sm text-red-700">
            {describeError(actionError).message}
          </p>
        )}
        {rounds.data?.length === 0 && <p className="mt-3 text-sm text-slate-500">No rounds yet. One starts automatically once enough new votes exist, or start one now.</p>}
        <ul className="mt-3 divide-y divide-slate-100" data-testid="round-list">
          {rounds.data?.map((r) => (
            <li key={r.id} className={`flex flex-wrap items-center justify-between gap-2 py-2 ${r.id === selectedId ? "bg-indigo-50/50" : ""}`}>
              <button type="button" className="min-w-0 flex-1 text-left" onClick={() => setSelected(r.id)}>
                <span className="font-medium">Round {r.number}</span>{" "}
                <span className={`ml-1 rounded-full px-2 py-0.5 text-xs font-medium ${STATUS_STYLE[r.status] ?? ""}`}>{r.status.toLowerCase()}</span>
                <span className="ml-2 text-xs text-slate-500">
                  {r.baseVersion?.name ?? "?"} → {r.resultVersion?.name ?? "…"} · {r.pairsTrain} train / {r.pairsHeldout} held-out pairs
                  {r.lastMetric ? ` · step ${r.lastMetric.step}` : ""}
                </span>
                {r.error && <span className="block text-xs text-red-700">{r.error}</span>}
              </button>
              {ACTIVE.has(r.status) && (
                <button type="button" className={buttonDanger} disabled={cancel.isPending} onClick={() => cancel.mutate({ roundId: r.id })}>
                  Cancel
                </button>
              )}
            </li>
          ))}
        </ul>
      </section>
      {selectedId && <RoundDetail roundId={selectedId} />}
      <Versions />
    </div>
  );
}

type Series = { step: number; values: Record<string, number> }[];

function RoundDetail({ roundId }: { roundId: string }) {
  const trpc = useTRPC();
  const [series, setSeries] = useState<Series>([]);
  const lastStep = series.at(-1)?.step ?? -1;
  useEffect(() => setSeries([]), [roundId]);
  // Polls only the steps after the last one it has, every 2 s while the round is active.
  const round = useQuery({
    ...trpc.rounds.get.queryOptions({ roundId, afterStep: lastStep }),
    refetchInterval: (q) => (q.state.data && !ACTIVE.has(q.state.data.status) ? false : 2000),
  });
  useEffect(() => {
    const fresh = round.data?.metrics;
    if (!fresh?.length) return;
    setSeries((s) => {
      const known = s.at(-1)?.step ?? -1;
      return [...s, ...fresh.filter((m) => m.step > known).map((m) => ({ step: m.step, values: m.values as Record<string, number> }))];
    });
  }, [round.data]);

  const steps = series.map((m) => m.step);
  const col = (name: string) => series.map((m) => (typeof m.values[name] === "number" ? m.values[name] : null));
  const r = round.data;
  return (
    <section aria-labelledby="round-detail-heading" className={card} data-testid="round-detail">
      <h2 id="round-detail-heading" className="text-lg font-semibold">
        {r ? `Round ${r.number}: ${r.status.toLowerCase()}` : "Round"}
      </h2>
      {r?.gates != null && (
        <ul className="mt-2 flex flex-wrap gap-2 text-xs">
          {(r.gates as { name: string; passed: boolean; value: number | null; threshold: number | null }[]).map((g) => (
            <li key={g.name} className={`rounded px-2 py-0.5 ${g.passed ? "bg-green-100 text-green-800" : "bg-red-100 text-red-800"}`}>
              {g.name}: {g.value === null ? "—" : g.value.toFixed(3)} (limit {g.threshold ?? "—"})
            </li>
          ))}
        </ul>
      )}
      {series.length === 0 ? (
        <p className="mt-3 text-sm text-slate-500">No training steps recorded yet.</p>
      ) : (
        <div className="mt-3 grid gap-4 md:grid-cols-3">
          <LineChart label="Loss per step" labels={steps} series={[{ name: "loss", data: col("loss") }]} />
          <LineChart label="Reward margin per step" labels={steps} series={[{ name: "rewards/margins", data: col("rewards/margins") }]} />
          <LineChart label="Reward accuracy per step" labels={steps} series={[{ name: "rewards/accuracies", data: col("rewards/accuracies") }]} />
        </div>
      )}
    </section>
  );
}

function Versions() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const versions = useQuery({ ...trpc.rounds.versions.queryOptions(), refetchInterval: 5000 });
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.rounds.pathKey() });
  const promote = useMutation(trpc.rounds.promote.mutationOptions({ onSuccess: refresh }));
  const rollback = useMutation(trpc.rounds.rollback.mutationOptions({ onSuccess: refresh }));
  const err = promote.error ?? rollback.error;
  const list = (versions.data ?? []) as { id: number; name: string; status: string; createdAt: Date | string }[];
  return (
    <section aria-labelledby="versions-heading" className={card}>
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h2 id="versions-heading" className="text-lg font-semibold">
          Policy versions
        </h2>
        <button type="button" className={buttonSecondary} disabled={rollback.isPending} onClick={() => rollback.mutate({})}>
          Roll back to the previous version
        </button>
      </div>
      {err && (
        <p role="alert" className="mt-2 text-sm text-red-700">
          {describeError(err).message}
        </p>
      )}
      <ul className="mt-3 divide-y divide-slate-100" data-testid="version-list">
        {list.map((v) => (
          <li key={v.id} className="flex items-center justify-between gap-2 py-2 text-sm">
            <span>
              <span className="font-mono font-semibold">{v.name}</span>{" "}
              <span className={`ml-1 rounded-full px-2 py-0.5 text-xs ${v.status === "SERVING" ? "bg-green-100 text-green-800" : "bg-slate-100 text-slate-600"}`}>{v.status.toLowerCase()}</span>
            </span>
            {v.status !== "SERVING" && (
              <button type="button" className={buttonSecondary} disabled={promote.isPending} onClick={() => promote.mutate({ versionId: v.id, allowRejected: v.status === "REJECTED" })}>
                Promote
              </button>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
