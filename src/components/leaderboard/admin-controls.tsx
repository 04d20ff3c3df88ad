"use client";
// Admin-only: who may see this page, which votes are rated, recompute now, and the data exports.
import { useMutation, useQuery } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { describeError, useTRPC } from "@/trpc/react";
import { buttonSecondary, card, label } from "../ui";

type Visibility = "public" | "labelers";

export function LeaderboardAdminControls({ visibility }: { visibility: Visibility }) {
  const trpc = useTRPC();
  const router = useRouter();
  const [message, setMessage] = useState<string | null>(null);
  const setVisibility = useMutation(
    trpc.leaderboard.setVisibility.mutationOptions({
      onSuccess: (v) => {
        setMessage(v === "public" ? "The leaderboard is now public." : "The leaderboard is now visible to signed-in users only.");
        router.refresh();
      },
    }),
  );
  const refresh = useMutation(
    trpc.leaderboard.refresh.mutationOptions({
      onSuccess: (r) => {
        setMessage(`Recomputed from ${r.votes} votes in ${r.computeMs} ms.`);
        router.refresh();
      },
    }),
  );
  const quality = useQuery(trpc.leaderboard.labelerQuality.queryOptions());
  const setQuality = useMutation(
    trpc.leaderboard.setLabelerQuality.mutationOptions({
      onSuccess: (q) => {
        setMessage(
          q.mode === "all"
            ? "Every vote is rated (FastChat's method); recomputing."
            : "Votes unlikely to be right are left out of the ratings; recomputing.",
        );
        void quality.refetch();
        router.refresh();
      },
    }),
  );
  const error = setVisibility.error ?? refresh.error ?? setQuality.error;

  return (
    <section aria-labelledby="lb-admin-heading" className={`${card} mt-6`}>
      <h2 id="lb-admin-heading" className="text-lg font-semibold">
        Admin
      </h2>
      <div className="mt-3 flex flex-wrap items-end gap-4">
        <div>
          <label htmlFor="lb-visibility" className={label}>
            Who can see this page
          </label>
          <select
            id="lb-visibility"
            className="mt-1 rounded-md bg-white px-3 py-2 text-sm ring-1 ring-slate-300"
            value={visibility}
            disabled={setVisibility.isPending}
            onChange={(e) => setVisibility.mutate({ visibility: e.target.value as Visibility })}
          >
            <option value="labelers">Signed-in users only</option>
            <option value="public">Anyone (public)</option>
          </select>
        </div>
        <div>
          <label htmlFor="lb-quality" className={label}>
            Votes rated
          </label>
          <select
            id="lb-quality"
            className="mt-1 rounded-md bg-white px-3 py-2 text-sm ring-1 ring-slate-300"
            value={quality.data?.mode ?? "all"}
            disabled={setQuality.isPending || !quality.data}
            onChange={(e) =>
              setQuality.mutate({ mode: e.target.value as "all" | "exclude-doubtful", minConfidence: quality.data?.minConfidence ?? 0.5 })
            }
          >
            <option value="all">Every vote (FastChat method)</option>
            <option value="exclude-doubtful">Without votes unlikely to be right (labeler quality)</option>
          </select>
        </div>
        <button type="button" className={buttonSecondary} disabled={refresh.isPending} onClick={() => refresh.mutate()}>
          {refresh.isPending ? "Recomputing…" : "Recompute now"}
        </button>
        <a className={buttonSecondary} href="/api/export/battles" download>
          Export battles (clean_battle JSONL)
        </a>
        <a className={buttonSecondary} href="/api/export/trl" download>
          Export preferences (TRL JSONL)
        </a>
      </div>
      {message && !error && (
        <p role="status" className="mt-3 text-sm text-green-700">
          {message}
        </p>
      )}
      {error && (
        <p role="alert" className="mt-3 text-sm text-red-700">
          {describeError(error).message}
        </p>
      )}
    </section>
  );
}
