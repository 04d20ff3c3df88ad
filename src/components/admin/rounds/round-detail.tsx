"use client";
// The selected round: its gates in plain words, its numbers, and the live training curves. Its
// status is the round list's (one source of truth); when that changes, the details refetch.
import { useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { GATE_LABELS } from "@/dpo/gates";
import { useTRPC } from "@/trpc/react";
import { card } from "../../ui";
import { LineChart } from "../charts";
import { ACTIVE, Num } from "./format";
import { RoundSummary, type Summary, type Usage } from "./round-summary";

type Series = { step: number; values: Record<string, number> }[];
type Gate = {
  name: string;
  passed: boolean;
  value: number | null;
  threshold: number | null;
  estimate?: number;
  pValue?: number;
  detail?: string;
};

/** What a gate decided on, in words, with rounded numbers (exact on hover). */
function GateText({ g }: { g: Gate }) {
  const v = g.value;
  switch (g.name) {
    case "finite":
      return <>{g.passed ? "no NaN or infinity anywhere" : g.detail}</>;
    case "heldout_size":
      return (
        <>
          {v ?? 0} held-out pairs; at least {g.threshold} needed
        </>
      );
    case "heldout_improvement":
      return Number.isFinite(v ?? NaN) ? (
        <>
          loss fell by <Num value={g.estimate} /> (lower bound <Num value={v} />, must be above 0; p = <Num value={g.pValue} />)
        </>
      ) : (
        g.detail
      );
    case "kl_round":
    case "kl_root":
    case "kl":
      return Number.isFinite(v ?? NaN) ? (
        <>
          <Num value={g.estimate ?? v} digits={2} /> nats (upper bound <Num value={v} digits={2} />, budget{" "}
          <Num value={g.threshold} digits={1} />)
        </>
      ) : (
        g.detail
      );
    default:
      return (
        <>
          <Num value={v} /> (limit <Num value={g.threshold} />)
        </>
      );
  }
}

export function RoundDetail({ roundId, status }: { roundId: string; status: string | undefined }) {
  const trpc = useTRPC();
  const [series, setSeries] = useState<Series>([]);
  const lastStep = series.at(-1)?.step ?? -1;
  const active = status === undefined || ACTIVE.has(status);
  // Polls only the steps after the last one it has, every second while the round is active.
  const round = useQuery({ ...trpc.rounds.get.queryOptions({ roundId, afterStep: lastStep }), refetchInterval: active ? 1000 : false });
  const { refetch } = round;
  // The list said the status changed: fetch the gates and summary that came with it now.
  useEffect(() => {
    void refetch();
  }, [status, refetch]);
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
  const shown = status ?? r?.status;
  const gates = (r?.gates ?? null) as Gate[] | null;
  return (
    <section aria-labelledby="round-detail-heading" className={card} data-testid="round-detail" data-status={shown}>
      <h2 id="round-detail-heading" className="text-lg font-semibold">
        {r && shown ? `Round ${r.number}: ${shown.toLowerCase()}` : "Round"}
      </h2>
      {r && (
        <p className="mt-1 text-sm text-slate-600">
          {r.baseVersion ? `Trained from ${r.baseVersion.name}` : "The base is the version serving when the round starts"}
          {r.referenceVersion ? `, reference ${r.referenceVersion.name}` : ""}
          {r.resultVersion ? `; produced ${r.resultVersion.name} (${r.resultVersion.status.toLowerCase()})` : ""}.
        </p>
      )}
      {r?.note && <p className="mt-2 rounded bg-amber-50 p-2 text-sm text-amber-900">{r.note}</p>}
      {gates != null && (
        <ul className="mt-2 space-y-1 text-sm" aria-label="Gates" data-testid="round-gates">
          {gates.map((g) => (
            <li key={g.name} title={g.detail} data-gate={g.name} data-passed={g.passed}>
              <span
                className={`mr-2 rounded px-2 py-0.5 text-xs font-medium ${g.passed ? "bg-green-100 text-green-800" : "bg-red-100 text-red-800"}`}
              >
                {g.passed ? "passed" : "failed"}
              </span>{" "}
              <span className="font-medium">{GATE_LABELS[g.name] ?? g.name}</span>: <GateText g={g} />
            </li>
          ))}
        </ul>
      )}
      {r?.summary != null && <RoundSummary summary={r.summary as Summary} usage={r.usage as Usage | null} />}
      {series.length === 0 ? (
        <p className="mt-3 text-sm text-slate-500">No training steps recorded yet.</p>
      ) : (
        <div className="mt-3 grid gap-4 md:grid-cols-3">
          <LineChart testId="curve-loss" label="Loss per step" labels={steps} series={[{ name: "loss", data: col("loss") }]} />
          <LineChart
            testId="curve-margin"
            label="Reward margin per step"
            labels={steps}
            series={[{ name: "rewards/margins", data: col("rewards/margins") }]}
          />
          <LineChart
            testId="curve-accuracy"
            label="Reward accuracy per step"
            labels={steps}
            series={[{ name: "rewards/accuracies", data: col("rewards/accuracies") }]}
          />
        </div>
      )}
    </section>
  );
}
