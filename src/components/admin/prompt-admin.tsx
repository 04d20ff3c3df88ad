"use client";
// The prompt pool: import a file or pasted text (with the rejected-lines report), search, and
// enable/disable prompts.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { describeError, useTRPC } from "@/trpc/react";
import { buttonPrimary, buttonSecondary, inputBase, label } from "../ui";
import { ErrorAlert, FieldError, FileOrPaste, FormError, Pager, RejectedLines, Section, useImportText } from "./admin-parts";

export function PromptAdmin() {
  return (
    <div className="mt-4 space-y-6">
      <ImportForm />
      <PromptList />
    </div>
  );
}

function ImportForm() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const text = useImportText();
  const [format, setFormat] = useState<"auto" | "jsonl" | "csv" | "text">("auto");
  const [overlap, setOverlap] = useState("");
  const importer = useMutation(
    trpc.prompts.import.mutationOptions({
      onSuccess: () => {
        // The same text again would only come back as duplicates: the form empties, the report stays.
        text.clear();
        return queryClient.invalidateQueries({ queryKey: trpc.prompts.list.pathKey() });
      },
    }),
  );
  const error = importer.error ? describeError(importer.error) : null;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    importer.mutate({
      content: text.content,
      filename: text.filename,
      format,
      overlapTarget: overlap.trim() === "" ? undefined : Number(overlap),
    });
  };
  const report = importer.data;

  return (
    <Section id="import-heading" title="Import prompts">
      <p className="mt-1 text-sm text-slate-600">
        JSONL (<code>{'{"prompt": "…", "overlapTarget": 2}'}</code> per line), CSV with a <code>prompt</code> column (and optional{" "}
        <code>overlap_target</code>), or plain text with one prompt per line.
      </p>
      <form onSubmit={submit} className="mt-4 space-y-3" noValidate>
        <FileOrPaste
          idPrefix="prompt"
          accept=".jsonl,.ndjson,.csv,.txt,text/plain,text/csv"
          pasteLabel="Or paste prompts"
          rows={5}
          {...text.input}
          error={error?.fields.content}
        />
        <div className="flex flex-wrap items-end gap-3">
          <div>
            <label htmlFor="prompt-format" className={label}>
              Format
            </label>
            <select
              id="prompt-format"
              className={`${inputBase} mt-1 block w-40`}
              value={format}
              onChange={(e) => setFormat(e.target.value as typeof format)}
            >
              <option value="auto">Detect</option>
              <option value="jsonl">JSONL</option>
              <option value="csv">CSV</option>
              <option value="text">Plain text</option>
            </select>
          </div>
          <div>
            <label htmlFor="prompt-overlap" className={label}>
              Overlap target
            </label>
            <input
              id="prompt-overlap"
              type="number"
              min={1}
              max={100}
              placeholder="default"
              className={`${inputBase} mt-1 block w-32`}
              value={overlap}
              aria-invalid={!!error?.fields.overlapTarget}
              onChange={(e) => setOverlap(e.target.value)}
            />
            <FieldError message={error?.fields.overlapTarget} />
          </div>
          <button type="submit" className={buttonPrimary} disabled={importer.isPending || text.content.trim() === ""}>
            {importer.isPending ? "Importing…" : "Import"}
          </button>
        </div>
        <FormError error={error} />
      </form>
      {report && (
        <div className="mt-4" data-testid="import-report">
          <p role="status" className="text-sm text-slate-800">
            Added {report.added} prompt{report.added === 1 ? "" : "s"} ({report.format}); {report.duplicates} already in the pool;{" "}
            {report.rejectedTotal} line
            {report.rejectedTotal === 1 ? "" : "s"} rejected
            {report.rejectedTotal > report.rejected.length ? ` (the first ${report.rejected.length} are listed)` : ""}.
          </p>
          <RejectedLines rejected={report.rejected} />
        </div>
      )}
    </Section>
  );
}

function PromptList() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [search, setSearch] = useState("");
  const [status, setStatus] = useState<"all" | "enabled" | "disabled">("all");
  const [page, setPage] = useState(0);
  const list = useQuery({ ...trpc.prompts.list.queryOptions({ search, status, page, pageSize: 25 }), placeholderData: keepPreviousData });
  const toggle = useMutation(
    trpc.prompts.setEnabled.mutationOptions({ onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.prompts.list.pathKey() }) }),
  );
  const pages = list.data ? Math.max(1, Math.ceil(list.data.total / list.data.pageSize)) : 1;

  return (
    <Section
      id="pool-heading"
      title={<>Prompt pool {list.data && <span className="text-sm font-normal text-slate-500">({list.data.total})</span>}</>}
      aside={
        <div className="flex w-full gap-2 sm:w-auto">
          <input
            aria-label="Search prompts"
            placeholder="Search…"
            className={`${inputBase} w-full sm:w-56`}
            value={search}
            onChange={(e) => {
              setSearch(e.target.value);
              setPage(0);
            }}
          />
          <select
            aria-label="Status"
            className={`${inputBase} w-32`}
            value={status}
            onChange={(e) => (setStatus(e.target.value as typeof status), setPage(0))}
          >
            <option value="all">All</option>
            <option value="enabled">Enabled</option>
            <option value="disabled">Disabled</option>
          </select>
        </div>
      }
    >
      <ErrorAlert error={list.error} className="mt-3 text-sm" />
      <ul className="mt-3 divide-y divide-slate-100" data-testid="prompt-list">
        {list.data?.prompts.map((p) => (
          <li key={p.id} className="flex flex-wrap items-start justify-between gap-2 py-2" data-testid="prompt-row">
            <div className="min-w-0 flex-1">
              <p className={`whitespace-pre-wrap break-words text-sm ${p.enabled ? "text-slate-900" : "text-slate-400 line-through"}`}>
                {p.text}
              </p>
              <p className="text-xs text-slate-500">
                {p.source} · overlap {p.overlapTarget} · {p.votes} vote{p.votes === 1 ? "" : "s"}
                {p.heldOut ? " · held out" : ""}
              </p>
            </div>
            <button
              type="button"
              className={buttonSecondary}
              disabled={toggle.isPending}
              onClick={() => toggle.mutate({ promptId: p.id, enabled: !p.enabled })}
            >
              {p.enabled ? "Disable" : "Enable"}
            </button>
          </li>
        ))}
      </ul>
      <Pager page={page} pages={pages} onPage={setPage} />
    </Section>
  );
}
