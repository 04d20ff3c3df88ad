"use client";
// Marking a finished battle as gold by hand: the newest voted battles with their prompt and the
// two completions as the labeler saw them; the admin picks the right answer.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { describeError, useTRPC } from "@/trpc/react";
import { buttonSecondary, card, input } from "../ui";

type Expected = "A" | "B" | "TIE";

export function MarkGold() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const battles = useQuery(trpc.quality.recentBattles.queryOptions({ limit: 10 }));
  const [expected, setExpected] = useState<Record<string, Expected>>({});
  const [marked, setMarked] = useState<Record<string, boolean>>({});
  const mark = useMutation(
    trpc.quality.markGold.mutationOptions({
      onSuccess: (_data, vars) => {
        setMarked((m) => ({ ...m, [vars.battleId]: true }));
        void queryClient.invalidateQueries({ queryKey: trpc.quality.goldPairs.pathKey() });
        void queryClient.invalidateQueries({ queryKey: trpc.quality.labelers.pathKey() });
      },
    }),
  );
  return (
    <section aria-labelledby="mark-gold-heading" className={card}>
      <h2 id="mark-gold-heading" className="text-lg font-semibold">
        Mark a finished battle as gold
      </h2>
      <p className="mt-1 text-sm text-slate-600">
        The newest voted battles. A battle marked as gold keeps its vote; from then on other labelers get its pair as a gold battle.
      </p>
      {battles.error && (
        <p role="alert" className="mt-2 text-sm text-red-700">
          {describeError(battles.error).message}
        </p>
      )}
      {mark.error && (
        <p role="alert" className="mt-2 text-sm text-red-700">
          {describeError(mark.error).message}
        </p>
      )}
      {battles.data?.length === 0 && <p className="mt-3 text-sm text-slate-500">No voted battles yet.</p>}
      <ul className="mt-3 divide-y divide-slate-100" data-testid="recent-battles">
        {battles.data?.map((b) => (
          <li key={b.battleId} className="py-3 text-sm" data-battle-id={b.battleId}>
            <p className="font-medium whitespace-pre-wrap break-words">{b.promptText}</p>
            <div className="mt-2 grid gap-2 sm:grid-cols-2">
              {(["A", "B"] as const).map((slot) => (
                <div key={slot} className="rounded-md bg-slate-50 p-2 ring-1 ring-inset ring-slate-200">
                  <p className="text-xs font-semibold text-slate-500">{slot}</p>
                  <p className="mt-1 whitespace-pre-wrap break-words">{slot === "A" ? b.completionA : b.completionB}</p>
                </div>
              ))}
            </div>
            <div className="mt-2 flex flex-wrap items-center gap-2">
              <span className="text-xs text-slate-500">
                {b.labeler} voted {b.choice === "BOTH_BAD" ? "both bad" : b.choice === "TIE" ? "tie" : b.choice}
              </span>
              {marked[b.battleId] ? (
                <span role="status" className="text-xs font-medium text-emerald-700">
                  Marked as gold
                </span>
              ) : (
                <>
                  <label className="text-xs text-slate-600">
                    Right answer{" "}
                    <select
                      className={`${input} ml-1 w-auto py-0.5`}
                      value={expected[b.battleId] ?? "A"}
                      onChange={(e) => setExpected((x) => ({ ...x, [b.battleId]: e.target.value as Expected }))}
                    >
                      <option value="A">A</option>
                      <option value="B">B</option>
                      <option value="TIE">Tie</option>
                    </select>
                  </label>
                  <button
                    type="button"
                    className={buttonSecondary}
                    disabled={mark.isPending}
                    onClick={() => mark.mutate({ battleId: b.battleId, expected: expected[b.battleId] ?? "A" })}
                  >
                    Mark as gold
                  </button>
                </>
              )}
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}
