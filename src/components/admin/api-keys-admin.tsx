"use client";
// Create (shown once), list and revoke API keys.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import type { ApiKeySummary } from "@/server/services/api-keys/keys";
import { describeError, useTRPC } from "@/trpc/react";
import { buttonDanger, buttonPrimary, input, label } from "../ui";
import { ErrorAlert, FieldError, FormError, QueryList, Section, TextField } from "./admin-parts";

const SCOPES = [
  { id: "inference", help: "/v1/models, /v1/chat/completions, /v1/completions" },
  { id: "vote", help: "/v1/preferences on the key's own completions" },
  { id: "export", help: "/api/export/trl, /battles and /hf-preferences" },
  { id: "admin", help: "all of the above" },
] as const;
type Scope = (typeof SCOPES)[number]["id"];

const when = (d: Date | string | null) => (d ? new Date(d).toLocaleString() : "never");

export function ApiKeysAdmin() {
  const trpc = useTRPC();
  const keys = useQuery(trpc.apiKeys.list.queryOptions());
  return (
    <div className="mt-6 space-y-6">
      <CreateKeyForm />
      <Section id="keys-heading" title="Keys">
        <QueryList query={keys} empty="No API keys yet." testId="api-key-list">
          {(k) => <KeyRow key={k.id} apiKey={k} />}
        </QueryList>
      </Section>
    </div>
  );
}

function CreateKeyForm() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<Scope[]>(["inference"]);
  const [rate, setRate] = useState("60");
  const [shown, setShown] = useState<{ name: string; key: string } | null>(null);
  const create = useMutation(
    trpc.apiKeys.create.mutationOptions({
      onSuccess: async (created) => {
        setShown({ name: created.apiKey.name, key: created.key });
        setName("");
        await queryClient.invalidateQueries({ queryKey: trpc.apiKeys.list.queryKey() });
      },
    }),
  );
  const error = create.error ? describeError(create.error) : null;

  function submit(event: FormEvent) {
    event.preventDefault();
    setShown(null);
    create.mutate({ name, scopes, rateLimitPerMinute: Number(rate) });
  }

  return (
    <Section id="create-key-heading" title="Create a key">
      <form onSubmit={submit} className="mt-4 space-y-4" noValidate>
        <div className="grid gap-4 sm:grid-cols-[2fr_1fr]">
          <TextField id="key-name" text="Name (who or what uses it)" value={name} onChange={setName} error={error?.fields.name} />
          <div>
            <label htmlFor="key-rate" className={label}>
              Requests per minute
            </label>
            <input
              id="key-rate"
              type="number"
              min={1}
              className={`${input} mt-1`}
              value={rate}
              aria-invalid={!!error?.fields.rateLimitPerMinute}
              onChange={(e) => setRate(e.target.value)}
            />
            <FieldError message={error?.fields.rateLimitPerMinute} />
          </div>
        </div>
        <fieldset>
          <legend className={label}>Scopes</legend>
          <div className="mt-1 grid gap-2 sm:grid-cols-2">
            {SCOPES.map((s) => (
              <label key={s.id} className="flex items-start gap-2 text-sm">
                <input
                  type="checkbox"
                  className="mt-1"
                  checked={scopes.includes(s.id)}
                  onChange={(e) => setScopes((cur) => (e.target.checked ? [...cur, s.id] : cur.filter((x) => x !== s.id)))}
                />
                <span>
                  <span className="font-medium">{s.id}</span> <span className="text-slate-500">— {s.help}</span>
                </span>
              </label>
            ))}
          </div>
          <FieldError message={error?.fields.scopes} />
        </fieldset>
        <div className="flex items-center gap-3">
          <button type="submit" className={buttonPrimary} disabled={create.isPending}>
            Create key
          </button>
          <FormError error={error} />
        </div>
      </form>
      {shown && (
        <div role="status" className="mt-4 rounded-md bg-amber-50 p-3 text-sm ring-1 ring-amber-200">
          <p>
            Key for <strong>{shown.name}</strong>. Copy it now: it is not stored and will not be shown again.
          </p>
          <code
            data-testid="new-api-key"
            className="mt-2 block break-all rounded bg-white px-2 py-1 font-mono text-xs ring-1 ring-amber-200"
          >
            {shown.key}
          </code>
        </div>
      )}
    </Section>
  );
}

function KeyRow({ apiKey: k }: { apiKey: ApiKeySummary }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const revoke = useMutation(
    trpc.apiKeys.revoke.mutationOptions({ onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.apiKeys.list.queryKey() }) }),
  );
  return (
    <li className="flex flex-wrap items-center justify-between gap-2 py-3" data-testid={`api-key-${k.name}`}>
      <div className="min-w-0">
        <p className="truncate font-medium">
          {k.name} <code className="ml-1 text-xs text-slate-500">{k.prefix}…</code>
          {k.revokedAt && <span className="ml-2 rounded bg-slate-100 px-1.5 py-0.5 text-xs text-slate-600">revoked</span>}
        </p>
        <p className="text-xs text-slate-500">
          {k.scopes.join(", ")} · {k.rateLimitPerMinute}/min · created {when(k.createdAt)} · last used {when(k.lastUsedAt)}
          {k.revokedAt && ` · revoked ${when(k.revokedAt)}`}
        </p>
        <ErrorAlert error={revoke.error} className="text-xs" />
      </div>
      {!k.revokedAt && (
        <button
          type="button"
          className={buttonDanger}
          disabled={revoke.isPending}
          onClick={() => {
            if (window.confirm(`Revoke "${k.name}"? Programs using it stop working at once.`)) revoke.mutate({ id: k.id });
          }}
        >
          Revoke
        </button>
      )}
    </li>
  );
}
