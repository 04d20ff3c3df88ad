"use client";
// Models (the `models` router): every version with its source, architecture, size and status;
// importing a Hugging Face directory from the server's disk; serving a version now.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { describeError, useTRPC } from "@/trpc/react";
import { buttonPrimary, buttonSecondary, card, input, label } from "../ui";

const STATUS_STYLE: Record<string, string> = {
  SERVING: "bg-green-100 text-green-800",
  CANDIDATE: "bg-blue-100 text-blue-800",
  RETIRED: "bg-slate-100 text-slate-600",
  REJECTED: "bg-orange-100 text-orange-800",
};

function formatParams(n: number | null): string {
  if (n === null) return "—";
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e8 ? 0 : 2)} M`;
  return `${(n / 1e3).toFixed(0)} k`;
}

export function ModelsAdmin() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const models = useQuery({ ...trpc.models.list.queryOptions({}), refetchInterval: 5000 });
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.models.pathKey() });
  const serve = useMutation(trpc.models.serve.mutationOptions({ onSuccess: refresh }));

  return (
    <div className="mt-4 space-y-6">
      <ImportForm onImported={refresh} />
      <section aria-labelledby="versions-heading" className={card}>
        <h2 id="versions-heading" className="text-lg font-semibold">
          Versions
        </h2>
        {serve.error && (
          <p role="alert" className="mt-2 text-sm text-red-700">
            {describeError(serve.error).message}
          </p>
        )}
        <div className="mt-3 overflow-x-auto">
          <table className="w-full text-left text-sm" data-testid="model-table">
            <thead className="text-xs uppercase text-slate-500">
              <tr>
                <th className="py-2 pr-3">Version</th>
                <th className="py-2 pr-3">Model</th>
                <th className="py-2 pr-3">Source</th>
                <th className="py-2 pr-3">Architecture</th>
                <th className="py-2 pr-3">Parameters</th>
                <th className="py-2 pr-3">Status</th>
                <th className="py-2" />
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {models.data?.map((m) => (
                <tr key={m.id} data-testid="model-row" data-version={m.name} data-status={m.status}>
                  <td className="py-2 pr-3 font-medium">{m.name}</td>
                  <td className="py-2 pr-3">
                    {m.displayName ?? "—"}
                    <span className="block text-xs text-slate-500">
                      {m.parentName ? `trained from ${m.parentName}` : "lineage root"} · sha256 {m.checkpointSha256.slice(0, 12)}…
                      {m.checkpointPruned ? " · checkpoint pruned" : ""}
                    </span>
                  </td>
                  <td className="py-2 pr-3">{m.source.toLowerCase()}</td>
                  <td className="py-2 pr-3">{m.architecture ?? "—"}</td>
                  <td className="py-2 pr-3">{formatParams(m.parameterCount)}</td>
                  <td className="py-2 pr-3">
                    <span className={`rounded-full px-2 py-0.5 text-xs font-medium ${STATUS_STYLE[m.status] ?? ""}`}>
                      {m.status.toLowerCase()}
                    </span>
                  </td>
                  <td className="py-2 text-right">
                    {m.status !== "SERVING" && m.status !== "REJECTED" && !m.checkpointPruned && (
                      <button
                        type="button"
                        className={buttonSecondary}
                        disabled={serve.isPending}
                        onClick={() => serve.mutate({ versionId: m.id })}
                      >
                        Serve now
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    </div>
  );
}

function ImportForm({ onImported }: { onImported: () => void }) {
  const trpc = useTRPC();
  const [dir, setDir] = useState("");
  const [name, setName] = useState("");
  const [serveNow, setServeNow] = useState(false);
  const importer = useMutation(trpc.models.import.mutationOptions({ onSuccess: onImported }));
  const error = importer.error ? describeError(importer.error) : null;
  const done = importer.data;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    importer.mutate({ dir: dir.trim(), name: name.trim(), serve: serveNow });
  };

  return (
    <section aria-labelledby="import-heading" className={card}>
      <h2 id="import-heading" className="text-lg font-semibold">
        Import a model
      </h2>
      <p className="mt-1 text-sm text-slate-600">
        A Hugging Face model directory on this server (config.json, safetensors weights, tokenizer files), copied here from wherever you
        downloaded it. It is checked (architecture, every tensor&apos;s shape, tokenizer, a one-token forward pass) and copied into the
        checkpoint store; if anything is wrong nothing is registered. Prompts longer than the serving model&apos;s context are handled by
        one rule at prompt import and battle assignment, never by a sampler.
      </p>
      <form className="mt-3 grid gap-3 sm:grid-cols-2" onSubmit={submit}>
        <div className="sm:col-span-2">
          <label htmlFor="model-dir" className={label}>
            Directory on the server
          </label>
          <input
            id="model-dir"
            className={`${input} mt-1 font-mono`}
            placeholder="/srv/models/SmolLM2-135M-Instruct"
            value={dir}
            onChange={(e) => setDir(e.target.value)}
            aria-invalid={!!error?.fields.dir}
          />
          {error?.fields.dir && <p className="mt-1 text-xs text-red-700">{error.fields.dir}</p>}
        </div>
        <div>
          <label htmlFor="model-name" className={label}>
            Name
          </label>
          <input
            id="model-name"
            className={`${input} mt-1`}
            placeholder="SmolLM2-135M-Instruct"
            value={name}
            onChange={(e) => setName(e.target.value)}
            aria-invalid={!!error?.fields.name}
          />
          {error?.fields.name && <p className="mt-1 text-xs text-red-700">{error.fields.name}</p>}
        </div>
        <label className="flex items-center gap-2 self-end text-sm text-slate-700">
          <input type="checkbox" checked={serveNow} onChange={(e) => setServeNow(e.target.checked)} /> Serve it now
        </label>
        <div className="flex items-center gap-3 sm:col-span-2">
          <button type="submit" className={buttonPrimary} disabled={importer.isPending || !dir.trim() || !name.trim()}>
            {importer.isPending ? "Checking and copying…" : "Import"}
          </button>
          {error && (
            <p role="alert" className="text-sm text-red-700">
              {error.message}
            </p>
          )}
          {done && !importer.isPending && !error && (
            <p role="status" className="text-sm text-green-700">
              Imported {done.version.name} ({done.report.architecture}, {formatParams(done.report.parameterCount)} parameters)
              {done.served
                ? " and serving it now."
                : done.serveError
                  ? `, but not served: ${done.serveError}`
                  : ". Serve it from the table below when you want it."}
            </p>
          )}
        </div>
      </form>
    </section>
  );
}
