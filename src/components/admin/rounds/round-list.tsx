"use client";
// The rounds, newest first, with the status every other part of the page uses for a round.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { describeError, useTRPC } from "@/trpc/react";
import { buttonDanger } from "../../ui";
import { ACTIVE, plural, StatusBadge } from "./format";

export interface RoundRow {
  id: string;
  number: number;
  status: string;
  pairsTrain: number;
  pairsHeldout: number;
  error: string | null;
  note: string | null;
  baseVersion: { name: string } | null;
  resultVersion: { name: string; status: string } | null;
  lastMetric: { step: number } | null;
}

export function RoundList({
  rounds,
  selectedId,
  onSelect,
}: {
  rounds: RoundRow[] | undefined;
  selectedId: string | null;
  onSelect: (id: string) => void;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const cancel = useMutation(
    trpc.rounds.cancel.mutationOptions({ onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.rounds.pathKey() }) }),
  );
  return (
    <>
      {cancel.error && (
        <p role="alert" className="mt-2 text-sm text-red-700">
          {describeError(cancel.error).message}
        </p>
      )}
      {rounds?.length === 0 && (
        <p className="mt-3 text-sm text-slate-500">
          No rounds yet. One starts automatically once enough new votes exist, or start one now.
        </p>
      )}
      <ul className="mt-3 divide-y divide-slate-100" data-testid="round-list">
        {rounds?.map((r) => (
          <li
            key={r.id}
            data-testid="round-row"
            data-status={r.status}
            className={`flex flex-wrap items-center justify-between gap-2 py-2 ${r.id === selectedId ? "bg-indigo-50/50" : ""}`}
          >
            <button type="button" className="min-w-0 flex-1 text-left" onClick={() => onSelect(r.id)}>
              <span className="font-medium">Round {r.number}</span> <StatusBadge status={r.status} />
              <span className="ml-2 text-xs text-slate-500">
                {r.baseVersion ? `${r.baseVersion.name} → ${r.resultVersion?.name ?? "…"}` : "base chosen when it starts"}
                {r.baseVersion ? ` · ${plural(r.pairsTrain, "training pair")}, ${plural(r.pairsHeldout, "held-out pair")}` : ""}
                {r.lastMetric ? ` · step ${r.lastMetric.step}` : ""}
              </span>
              {r.note && <span className="block text-xs text-amber-800">{r.note}</span>}
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
    </>
  );
}
