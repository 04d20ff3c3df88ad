"use client";
// Register, list, check, disable and remove external contestants (OpenAI-compatible endpoints).
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import type { ContestantSummary } from "@/server/services/contestants/manage";
import { describeError, useTRPC } from "@/trpc/react";
import { buttonDanger, buttonPrimary, buttonSecondary, label } from "../ui";
import { ErrorAlert, FormError, QueryList, Section, TextField } from "./admin-parts";

const when = (d: Date | string | null) => (d ? new Date(d).toLocaleString() : "never");

const STATUS_TONE: Record<ContestantSummary["status"], string> = {
  ok: "bg-green-50 text-green-800 ring-green-200",
  unreachable: "bg-red-50 text-red-800 ring-red-200",
  unknown: "bg-slate-50 text-slate-700 ring-slate-200",
};

export function ContestantsAdmin() {
  const trpc = useTRPC();
  const list = useQuery(trpc.contestants.list.queryOptions(undefined, { refetchInterval: 10_000 }));
  return (
    <div className="mt-6 space-y-6">
      <AddContestantForm />
      <Section id="contestants-heading" title="Contestants">
        <QueryList query={list} empty="No contestants yet." testId="contestant-list">
          {(c) => <ContestantRow key={c.id} contestant={c} />}
        </QueryList>
      </Section>
    </div>
  );
}

function AddContestantForm() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  const [baseUrl, setBaseUrl] = useState("");
  const [model, setModel] = useState("");
  const [api, setApi] = useState<"chat" | "completions">("chat");
  const [apiKey, setApiKey] = useState("");
  const add = useMutation(
    trpc.contestants.add.mutationOptions({
      onSuccess: async () => {
        setName("");
        setBaseUrl("");
        setModel("");
        setApiKey("");
        await queryClient.invalidateQueries({ queryKey: trpc.contestants.list.queryKey() });
      },
    }),
  );
  const error = add.error ? describeError(add.error) : null;

  function submit(event: FormEvent) {
    event.preventDefault();
    add.mutate({ name, baseUrl, model, api, apiKey: apiKey || undefined });
  }

  return (
    <Section id="add-contestant-heading" title="Register a contestant">
      <form onSubmit={submit} className="mt-4 space-y-4" noValidate>
        <div className="grid gap-4 sm:grid-cols-2">
          <TextField id="contestant-name" text="Name (its leaderboard entry)" value={name} onChange={setName} error={error?.fields.name} />
          <TextField
            id="contestant-url"
            text="Base URL"
            value={baseUrl}
            onChange={setBaseUrl}
            error={error?.fields.baseUrl}
            hint="The part before /chat/completions, e.g. http://gpu-box:8000/v1"
          />
          <TextField
            id="contestant-model"
            text="Model"
            value={model}
            onChange={setModel}
            error={error?.fields.model}
            hint="The model name the endpoint expects"
          />
          <TextField
            id="contestant-key"
            text="API key (optional)"
            type="password"
            value={apiKey}
            onChange={setApiKey}
            error={error?.fields.apiKey}
            hint="Stored encrypted (CONTESTANT_SECRET_KEY); never shown again"
          />
        </div>
        <fieldset>
          <legend className={label}>Endpoint</legend>
          <div className="mt-1 flex flex-wrap gap-4 text-sm">
            <label className="flex items-center gap-2">
              <input type="radio" name="contestant-api" checked={api === "chat"} onChange={() => setApi("chat")} />
              /chat/completions (the prompt as one user message)
            </label>
            <label className="flex items-center gap-2">
              <input type="radio" name="contestant-api" checked={api === "completions"} onChange={() => setApi("completions")} />
              /completions (plain continuation)
            </label>
          </div>
        </fieldset>
        <div className="flex items-center gap-3">
          <button type="submit" className={buttonPrimary} disabled={add.isPending}>
            Register
          </button>
          <FormError error={error} />
        </div>
      </form>
    </Section>
  );
}

function ContestantRow({ contestant: c }: { contestant: ContestantSummary }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.contestants.list.queryKey() });
  const check = useMutation(trpc.contestants.check.mutationOptions({ onSuccess: refresh }));
  const enable = useMutation(trpc.contestants.setEnabled.mutationOptions({ onSuccess: refresh }));
  const remove = useMutation(trpc.contestants.remove.mutationOptions({ onSuccess: refresh }));
  const failure = check.error ?? enable.error ?? remove.error;
  return (
    <li className="flex flex-wrap items-start justify-between gap-2 py-3" data-testid={`contestant-${c.name}`}>
      <div className="min-w-0">
        <p className="truncate font-medium">
          {c.name}{" "}
          <span
            className={`ml-1 rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${STATUS_TONE[c.status]}`}
            data-testid="contestant-status"
          >
            {c.status}
          </span>
          {!c.enabled && <span className="ml-2 rounded bg-slate-100 px-1.5 py-0.5 text-xs text-slate-600">disabled</span>}
        </p>
        <p className="break-all text-xs text-slate-500">
          {c.baseUrl} · model <code>{c.model}</code> · /{c.api === "chat" ? "chat/completions" : "completions"} ·{" "}
          {c.hasApiKey ? "key stored encrypted" : "no key"}
        </p>
        <p className="text-xs text-slate-500">
          {c.battles} battles, {c.votes} voted · last success {when(c.lastSuccessAt)} · last error {when(c.lastErrorAt)}
        </p>
        {c.status === "unreachable" && c.lastError && (
          <p className="text-xs text-red-700" data-testid="contestant-last-error">
            {c.lastError}
          </p>
        )}
        <ErrorAlert error={failure} className="text-xs" />
      </div>
      <div className="flex gap-2">
        <button type="button" className={buttonSecondary} disabled={check.isPending} onClick={() => check.mutate({ id: c.id })}>
          {check.isPending ? "Checking…" : "Check now"}
        </button>
        <button
          type="button"
          className={buttonSecondary}
          disabled={enable.isPending}
          onClick={() => enable.mutate({ id: c.id, enabled: !c.enabled })}
        >
          {c.enabled ? "Disable" : "Enable"}
        </button>
        <button
          type="button"
          className={buttonDanger}
          disabled={remove.isPending}
          onClick={() => {
            if (window.confirm(`Remove "${c.name}"? It gets no more battles; its ratings stay on the leaderboard.`))
              remove.mutate({ id: c.id });
          }}
        >
          Remove
        </button>
      </div>
    </li>
  );
}
