"use client";
// Policy versions with promote, and roll back when there is an earlier serving version to go
// back to (none on a fresh install, where only v0 exists).
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { describeError, useTRPC } from "@/trpc/react";
import { buttonSecondary, card } from "../../ui";

type Version = {
  id: number;
  name: string;
  status: string;
  parentId: number | null;
  promotedAt: Date | string | null;
  notes: string | null;
};

export function Versions() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const versions = useQuery({ ...trpc.rounds.versions.queryOptions(), refetchInterval: 5000 });
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.rounds.pathKey() });
  const promote = useMutation(trpc.rounds.promote.mutationOptions({ onSuccess: refresh }));
  const rollback = useMutation(trpc.rounds.rollback.mutationOptions({ onSuccess: refresh }));
  const err = promote.error ?? rollback.error;
  const list = (versions.data ?? []) as Version[];
  const byId = new Map(list.map((v) => [v.id, v]));
  // The service rolls back to the most recently promoted RETIRED version.
  const canRollBack = list.some((v) => v.status === "RETIRED" && v.promotedAt !== null);
  return (
    <section aria-labelledby="versions-heading" className={card}>
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h2 id="versions-heading" className="text-lg font-semibold">
          Policy versions
        </h2>
        {canRollBack && (
          <button type="button" className={buttonSecondary} disabled={rollback.isPending} onClick={() => rollback.mutate({})}>
            Roll back to the previous version
          </button>
        )}
      </div>
      {err && (
        <p role="alert" className="mt-2 text-sm text-red-700">
          {describeError(err).message}
        </p>
      )}
      <ul className="mt-3 divide-y divide-slate-100" data-testid="version-list">
        {list.map((v) => (
          <li
            key={v.id}
            data-testid="version-row"
            data-name={v.name}
            data-status={v.status}
            className="flex items-center justify-between gap-2 py-2 text-sm"
          >
            <span>
              <span className="font-mono font-semibold">{v.name}</span>{" "}
              <span
                className={`ml-1 rounded-full px-2 py-0.5 text-xs ${v.status === "SERVING" ? "bg-green-100 text-green-800" : "bg-slate-100 text-slate-600"}`}
              >
                {v.status.toLowerCase()}
              </span>
              <span className="ml-2 text-xs text-slate-500">
                {v.parentId !== null ? `from ${byId.get(v.parentId)?.name ?? "?"}` : "root"}
              </span>
            </span>
            {v.status !== "SERVING" && (
              <button
                type="button"
                className={buttonSecondary}
                disabled={promote.isPending}
                onClick={() => {
                  // A rejected version failed a gate: serving it anyway is a deliberate override.
                  if (v.status === "REJECTED" && !window.confirm(`${v.name} failed a gate when it was trained. Serve it anyway?`)) return;
                  promote.mutate({ versionId: v.id, allowRejected: v.status === "REJECTED" });
                }}
              >
                Promote
              </button>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
