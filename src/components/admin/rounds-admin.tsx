"use client";
// Training rounds (the loop's `rounds` router): start a round (votes against the settings, with
// confirmation below them), the drift budget, the round list and the selected round's details,
// policy versions, and the loop settings. Each part is its own file under ./rounds/.
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { useTRPC } from "@/trpc/react";
import { card } from "../ui";
import { LoopSettingsForm } from "./rounds/loop-settings-form";
import { DriftBudget, StartRound } from "./rounds/readiness";
import { RoundDetail } from "./rounds/round-detail";
import { RoundList, type RoundRow } from "./rounds/round-list";
import { Versions } from "./rounds/versions";

export function RoundsAdmin() {
  const trpc = useTRPC();
  // The one source of a round's status on this page: the list and the detail both show this.
  const rounds = useQuery({ ...trpc.rounds.list.queryOptions({ limit: 50 }), refetchInterval: 1500 });
  const [selected, setSelected] = useState<string | null>(null);
  const list = rounds.data as RoundRow[] | undefined;
  const selectedId = selected ?? list?.[0]?.id ?? null;
  const selectedStatus = list?.find((r) => r.id === selectedId)?.status;

  return (
    <div className="mt-4 space-y-6">
      <section aria-labelledby="rounds-heading" className={card}>
        <h2 id="rounds-heading" className="text-lg font-semibold">
          Rounds
        </h2>
        <StartRound onStarted={setSelected} />
        <DriftBudget />
        <RoundList rounds={list} selectedId={selectedId} onSelect={setSelected} />
      </section>
      {/* keyed: another round starts from an empty series instead of appending to this one */}
      {selectedId && <RoundDetail key={selectedId} roundId={selectedId} status={selectedStatus} />}
      <Versions />
      <LoopSettingsForm />
    </div>
  );
}
