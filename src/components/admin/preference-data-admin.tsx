"use client";
// Imported preference data: upload a TRL or Anthropic HH file (all or nothing, with the
// rejected lines listed), and the imports with how many pairs rounds have used. Kept apart from
// votes on purpose: these pairs never reach the leaderboard or labeler statistics.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { describeError, useTRPC } from "@/trpc/react";
import { buttonPrimary, inputBase, label } from "../ui";
import { ErrorAlert, FileOrPaste, FormError, RejectedLines, Section, useImportText } from "./admin-parts";

const n = (x: number) => x.toLocaleString("en-US");

export function PreferenceDataAdmin() {
  return (
    <div className="mt-4 space-y-6">
      <ImportForm />
      <ImportList />
    </div>
  );
}

function ImportForm() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const text = useImportText();
  const [format, setFormat] = useState<"trl" | "hh">("trl");
  const importer = useMutation(
    trpc.preferences.import.mutationOptions({
      onSuccess: (r) => {
        if (r.importId === null) return;
        text.clear();
        return queryClient.invalidateQueries({ queryKey: trpc.preferences.list.pathKey() });
      },
    }),
  );
  const error = importer.error ? describeError(importer.error) : null;
  const report = importer.data;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    importer.mutate({ content: text.content, filename: text.filename, format });
  };

  return (
    <Section id="pref-import-heading" title="Import preference data">
      <p className="mt-1 text-sm text-slate-600">
        JSON lines in TRL&apos;s form (<code>{'{"prompt", "chosen", "rejected"}'}</code> as strings or chat messages) or Anthropic HH&apos;s
        (<code>{'{"chosen", "rejected"}'}</code>, the prompt being their shared beginning). The file is imported whole or not at all.
      </p>
      <form onSubmit={submit} className="mt-4 space-y-3" noValidate>
        <FileOrPaste
          idPrefix="pref"
          accept=".jsonl,.ndjson,.json,application/x-ndjson,text/plain"
          pasteLabel="Or paste lines"
          rows={5}
          {...text.input}
          error={error?.fields.content}
        />
        <div className="flex flex-wrap items-end gap-3">
          <div>
            <label htmlFor="pref-format" className={label}>
              Format
            </label>
            <select
              id="pref-format"
              className={`${inputBase} mt-1 block w-48`}
              value={format}
              onChange={(e) => setFormat(e.target.value as typeof format)}
            >
              <option value="trl">TRL</option>
              <option value="hh">Anthropic HH</option>
            </select>
          </div>
          <button type="submit" className={buttonPrimary} disabled={importer.isPending || text.content.trim() === ""}>
            {importer.isPending ? "Importing…" : "Import"}
          </button>
        </div>
        <FormError error={error} />
      </form>
      {report && (
        <div className="mt-4" data-testid="preference-import-report">
          <p role="status" className="text-sm text-slate-800">
            {report.importId
              ? `Imported ${n(report.imported)} pairs (${report.format}), prepared for ${report.tokenizedFor}.`
              : `Nothing was imported: ${n(report.rejectedTotal)} line${report.rejectedTotal === 1 ? "" : "s"} rejected${
                  report.rejectedTotal > report.rejected.length ? ` (the first ${n(report.rejected.length)} are listed)` : ""
                }. Fix them and import the file again.`}
          </p>
          <RejectedLines rejected={report.rejected} />
        </div>
      )}
    </Section>
  );
}

function ImportList() {
  const trpc = useTRPC();
  const list = useQuery(trpc.preferences.list.queryOptions());
  const data = list.data;
  return (
    <Section id="pref-list-heading" title="Offline pairs">
      {data && (
        <p className="mt-1 text-sm text-slate-600" data-testid="offline-pair-counts">
          A round could use {n(data.trainable.imported)} imported pairs and {n(data.trainable.api)} API preferences now (of the served
          model&apos;s lineage, not yet trained into it). It does when the loop settings &ldquo;Train on imported preference data&rdquo; and
          &ldquo;Train on API preferences&rdquo; on the rounds page are on. They are never counted as votes.
        </p>
      )}
      <ErrorAlert error={list.error} />
      {data && data.imports.length === 0 && <p className="mt-3 text-sm text-slate-500">Nothing imported yet.</p>}
      {data && data.imports.length > 0 && (
        <table className="mt-3 w-full text-left text-sm">
          <thead className="text-xs text-slate-500">
            <tr>
              <th className="py-1 pr-2">File</th>
              <th className="py-1 pr-2">Format</th>
              <th className="py-1 pr-2 text-right">Pairs</th>
              <th className="py-1 pr-2 text-right">Trained on</th>
              <th className="py-1 pr-2">For</th>
              <th className="py-1">Imported</th>
            </tr>
          </thead>
          <tbody>
            {data.imports.map((i) => (
              <tr key={i.id} className="border-t border-slate-100">
                <td className="py-1 pr-2 break-all">{i.filename}</td>
                <td className="py-1 pr-2">{i.format === "hh" ? "Anthropic HH" : "TRL"}</td>
                <td className="py-1 pr-2 text-right tabular-nums">{n(i.pairCount)}</td>
                <td className="py-1 pr-2 text-right tabular-nums">{n(i.used)}</td>
                <td className="py-1 pr-2">{i.rootVersion} lineage</td>
                <td className="py-1">{new Date(i.createdAt).toLocaleString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Section>
  );
}
