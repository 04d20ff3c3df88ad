"use client";
// Labeler quality (issue 15): the reliability model's estimate per labeler, the overall flip
// rate ε, excluding a labeler, and gold pairs (import, mark a finished battle, list).
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { describeError, useTRPC } from "@/trpc/react";
import { buttonPrimary, buttonSecondary, input, label } from "../ui";
import { ErrorAlert, FileOrPaste, FormError, Pager, RejectedLines, Section, useImportText } from "./admin-parts";
import { MarkGold } from "./quality-mark-gold";

const pct = (x: number | null | undefined) => (x === null || x === undefined ? "—" : `${Math.round(x * 100)}%`);
const num = (x: number) => x.toFixed(2);
const secs = (ms: number | null) => (ms === null ? "—" : `${(ms / 1000).toFixed(1)} s`);
const range = (i: { lower: number; upper: number }) => `[${num(i.lower)}, ${num(i.upper)}]`;

export function QualityView() {
  return (
    <div className="mt-4 space-y-6">
      <Reliability />
      <MarkGold />
      <GoldImport />
      <GoldList />
    </div>
  );
}

const FLAG_TEXT = {
  chance: {
    text: "chance",
    title: "Sides with the others' answer no more often than a coin flip would",
    className: "bg-red-50 text-red-700 ring-red-200",
  },
  "no-evidence": {
    text: "unchecked",
    title: "Too few votes checked against other labelers or gold to judge",
    className: "bg-slate-50 text-slate-600 ring-slate-200",
  },
} as const;

function Reliability() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const report = useQuery({ ...trpc.quality.labelers.queryOptions(), refetchInterval: 60_000 });
  const exclude = useMutation(
    trpc.quality.setExcluded.mutationOptions({
      onSuccess: () => void queryClient.invalidateQueries({ queryKey: trpc.quality.labelers.pathKey() }),
    }),
  );
  const r = report.data;
  return (
    <Section id="reliability-heading" title="Reliability">
      {report.isLoading && <p className="mt-2 text-sm text-slate-500">Estimating…</p>}
      <ErrorAlert error={report.error} />
      {r && (
        <>
          <dl className="mt-3 grid grid-cols-2 gap-3 text-sm sm:grid-cols-4" data-testid="quality-summary">
            <div>
              <dt className="text-slate-500">Estimated flip rate ε</dt>
              <dd className="text-xl font-semibold" data-testid="overall-epsilon">
                {num(r.flipRate.estimate)}
              </dd>
              <dd className="text-xs text-slate-500">
                {range(r.flipRate)} over {r.flipRate.decisiveVotes} A/B votes
              </dd>
            </div>
            <div>
              <dt className="text-slate-500">Votes</dt>
              <dd className="text-xl font-semibold">{r.votes}</dd>
              <dd className="text-xs text-slate-500">{r.goldVotes} on gold pairs</dd>
            </div>
            <div>
              <dt className="text-slate-500">Pairs without a preference</dt>
              <dd className="text-xl font-semibold">{pct(r.noPreferenceShare)}</dd>
              <dd className="text-xs text-slate-500">tie or both bad</dd>
            </div>
            <div>
              <dt className="text-slate-500">Active gold pairs</dt>
              <dd className="text-xl font-semibold">{r.activeGoldPairs}</dd>
              <dd className="text-xs text-slate-500">
                fit: {r.fit.iterations} EM passes, {r.fit.ms} ms{r.fit.converged ? "" : " (not converged)"}
              </dd>
            </div>
          </dl>
          <p className="mt-3 text-xs text-slate-500">
            ε is the share of A/B votes expected to point the wrong way: the value for the <code>robust</code> loss (label smoothing) on the
            rounds page. Intervals are {Math.round(r.level * 100)}%.
          </p>
          <div className="mt-3 overflow-x-auto">
            <table className="w-full min-w-[860px] text-left text-sm" data-testid="quality-table">
              <thead className="text-xs text-slate-500">
                <tr>
                  <th className="py-1 pr-3">Labeler</th>
                  <th
                    className="py-1 pr-3"
                    title="Share of votes where the labeler judged the pair rather than answering from habit; 0 is a random clicker"
                  >
                    Reliability
                  </th>
                  <th className="py-1 pr-3" title="Probability that an A/B vote points the wrong way">
                    Flip rate
                  </th>
                  <th className="py-1 pr-3">Agreement</th>
                  <th className="py-1 pr-3">Gold accuracy</th>
                  <th className="py-1 pr-3">Median time</th>
                  <th className="py-1 pr-3">Tie rate</th>
                  <th className="py-1 pr-3">Votes</th>
                  <th className="py-1 pr-3">Overlapping</th>
                  <th className="py-1 pr-3">Flag</th>
                  <th className="py-1" title="Excluded: their votes leave training pools and ratings until restored; nothing is deleted">
                    Data
                  </th>
                </tr>
              </thead>
              <tbody>
                {r.labelers.map((l) => (
                  <tr key={l.labelerId} className="border-t border-slate-100" data-testid={`quality-${l.username}`}>
                    <td className="py-1 pr-3 font-medium">
                      {l.username}
                      {l.disabled && <span className="ml-1 text-xs text-slate-400">(disabled)</span>}
                      {l.excluded && <span className="ml-1 text-xs text-amber-700">(excluded)</span>}
                    </td>
                    <td className="py-1 pr-3">
                      {num(l.reliability.estimate)} <span className="text-xs text-slate-400">{range(l.reliability)}</span>
                    </td>
                    <td className="py-1 pr-3">
                      {num(l.flipRate.estimate)} <span className="text-xs text-slate-400">{range(l.flipRate)}</span>
                    </td>
                    <td className="py-1 pr-3">
                      {pct(l.agreement.rate)} <span className="text-xs text-slate-400">of {l.agreement.compared}</span>
                    </td>
                    <td className="py-1 pr-3">
                      {pct(l.gold.accuracy)} <span className="text-xs text-slate-400">of {l.gold.total}</span>
                    </td>
                    <td className="py-1 pr-3">{secs(l.medianMsToVote)}</td>
                    <td className="py-1 pr-3">{pct(l.tieRate)}</td>
                    <td className="py-1 pr-3">{l.votes}</td>
                    <td className="py-1 pr-3">{l.overlappingVotes}</td>
                    <td className="py-1 pr-3">
                      {l.flag && (
                        <span
                          title={FLAG_TEXT[l.flag].title}
                          className={`rounded px-1.5 py-0.5 text-xs font-medium ring-1 ring-inset ${FLAG_TEXT[l.flag].className}`}
                        >
                          {FLAG_TEXT[l.flag].text}
                        </span>
                      )}
                    </td>
                    <td className="py-1">
                      <button
                        type="button"
                        className={buttonSecondary}
                        disabled={exclude.isPending}
                        onClick={() => exclude.mutate({ labelerId: l.labelerId, excluded: !l.excluded })}
                      >
                        {l.excluded ? "Restore" : "Exclude"}
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <ErrorAlert error={exclude.error} />
          <p className="mt-3 text-xs text-slate-500">
            A pair is one prompt with the same two completions; overlap copies and gold pairs with identical texts count as the same pair.
            Only pairs seen by a second labeler or with a gold answer say anything about a labeler; with none, the estimate is the prior.
            Excluding a labeler takes all their votes out of training pools, the leaderboard and the exports (nothing is deleted; Restore
            brings them back). The rounds settings decide whether training also weights votes by these estimates.
          </p>
        </>
      )}
    </Section>
  );
}

function GoldImport() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const text = useImportText();
  const importer = useMutation(
    trpc.quality.importGold.mutationOptions({
      onSuccess: () => {
        void queryClient.invalidateQueries({ queryKey: trpc.quality.goldPairs.pathKey() });
        void queryClient.invalidateQueries({ queryKey: trpc.quality.labelers.pathKey() });
      },
    }),
  );
  const error = importer.error ? describeError(importer.error) : null;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    importer.mutate({ content: text.content, filename: text.filename });
  };
  const report = importer.data;
  return (
    <Section id="gold-import-heading" title="Import gold pairs">
      <p className="mt-1 text-sm text-slate-600">
        JSONL, one pair per line:{" "}
        <code>{'{"prompt": "…", "completion_a": "…", "completion_b": "…", "expected": "A" | "B" | "TIE", "note": "…"}'}</code>. Votes
        already cast on a pair with the same texts are checked against its answer. Active gold pairs are served in the arena at the gold
        rate (Settings), looking like any other battle; their votes never train or rate.
      </p>
      <form onSubmit={submit} className="mt-4 space-y-3" noValidate>
        <FileOrPaste
          idPrefix="gold"
          accept=".jsonl,.ndjson,application/x-ndjson,text/plain"
          pasteLabel="Or paste JSONL"
          rows={4}
          {...text.input}
          error={error?.fields.content}
        />
        <button type="submit" className={buttonPrimary} disabled={importer.isPending || text.content === ""}>
          Import
        </button>
        <FormError error={error} />
      </form>
      {report && (
        <div className="mt-4" data-testid="gold-import-report">
          <p role="status" className="text-sm text-slate-800">
            Added {report.added} gold pair{report.added === 1 ? "" : "s"}; {report.duplicates} already stored; {report.rejected.length} line
            {report.rejected.length === 1 ? "" : "s"} rejected.
          </p>
          <RejectedLines rejected={report.rejected} />
        </div>
      )}
    </Section>
  );
}

function GoldList() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [status, setStatus] = useState<"all" | "active" | "inactive">("all");
  const [page, setPage] = useState(0);
  const list = useQuery({ ...trpc.quality.goldPairs.queryOptions({ status, page, pageSize: 20 }), placeholderData: keepPreviousData });
  const toggle = useMutation(
    trpc.quality.setGoldActive.mutationOptions({
      onSuccess: () => {
        void queryClient.invalidateQueries({ queryKey: trpc.quality.goldPairs.pathKey() });
        void queryClient.invalidateQueries({ queryKey: trpc.quality.labelers.pathKey() });
      },
    }),
  );
  const pages = list.data ? Math.max(1, Math.ceil(list.data.total / list.data.pageSize)) : 1;
  return (
    <Section
      id="gold-list-heading"
      title={<>Gold pairs {list.data && <span className="text-sm font-normal text-slate-500">({list.data.active} active)</span>}</>}
      aside={
        <div>
          <label htmlFor="gold-status" className={label}>
            Show
          </label>
          <select
            id="gold-status"
            className={`${input} mt-1`}
            value={status}
            onChange={(e) => {
              setStatus(e.target.value as typeof status);
              setPage(0);
            }}
          >
            <option value="all">All</option>
            <option value="active">Active</option>
            <option value="inactive">Inactive</option>
          </select>
        </div>
      }
    >
      <ErrorAlert error={list.error} />
      <ErrorAlert error={toggle.error} />
      {list.data && list.data.total === 0 && <p className="mt-3 text-sm text-slate-500">No gold pairs yet.</p>}
      <ul className="mt-3 divide-y divide-slate-100" data-testid="gold-list">
        {list.data?.pairs.map((p) => (
          <li key={p.id} className="py-3 text-sm">
            <div className="flex flex-wrap items-start justify-between gap-2">
              <p className="font-medium whitespace-pre-wrap break-words">{p.promptText}</p>
              <button
                type="button"
                className={buttonSecondary}
                disabled={toggle.isPending}
                onClick={() => toggle.mutate({ goldPairId: p.id, active: !p.active })}
              >
                {p.active ? "Deactivate" : "Activate"}
              </button>
            </div>
            <div className="mt-2 grid gap-2 sm:grid-cols-2">
              {(["A", "B"] as const).map((slot) => (
                <div
                  key={slot}
                  className={`rounded-md p-2 ring-1 ring-inset ${p.expected === slot ? "bg-emerald-50 ring-emerald-200" : "bg-slate-50 ring-slate-200"}`}
                >
                  <p className="text-xs font-semibold text-slate-500">
                    {slot}
                    {p.expected === slot && " · expected"}
                  </p>
                  <p className="mt-1 whitespace-pre-wrap break-words">{slot === "A" ? p.completionA : p.completionB}</p>
                </div>
              ))}
            </div>
            <p className="mt-1 text-xs text-slate-500">
              Expected: {p.expected === "TIE" ? "tie" : p.expected}
              {p.note && ` — ${p.note}`} · {p.source} · {p.createdBy ?? "deleted user"} · {p.active ? "active" : "inactive"}
            </p>
          </li>
        ))}
      </ul>
      {pages > 1 && <Pager page={page} pages={pages} onPage={setPage} />}
    </Section>
  );
}
