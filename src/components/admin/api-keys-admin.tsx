"use client";
// Create (shown once), list and revoke API keys.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import type { ApiKeySummary } from "@/server/services/api-keys/keys";
import { describeError, useTRPC } from "@/trpc/react";
import { buttonDanger, buttonPrimary, card, input, label } from "../ui";

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
      <section aria-labelledby="keys-heading" className={card}>
        <h2 id="keys-heading" className="text-lg font-semibold">
          Keys
        </h2>
        {keys.isPending && <p className="mt-4 text-sm text-slate-500">Loading…</p>}
        {keys.error && (
          <p role="alert" className="mt-4 text-sm text-red-700">
            {describeError(keys.error).message}
          </p>
        )}
        {keys.data?.length === 0 && <p className="mt-4 text-sm text-slate-500">No API keys yet.</p>}
        {keys.data && keys.data.length > 0 && (
          <ul className="mt-4 divide-y divide-slate-200" data-testid="api-key-list">
            {keys.data.map((k) => (
              <KeyRow key={k.id} apiKey={k} />
            ))}
          </ul>
        )}
      </section>
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
    <section aria-labelledby="create-key-heading" className={card}>
      <h2 id="create-key-heading" className="text-lg font-semibold">
        Create a key
      </h2>
      <form onSubmit={submit} className="mt-4 space-y-4" noValidate>
        <div className="grid gap-4 sm:grid-cols-[2fr_1fr]">
          <div>
            <label htmlFor="key-name" className={label}>
              Name (who or what uses it)
            </label>
            <input
              id="key-name"
              className={`${input} mt-1`}
              value={name}
              aria-invalid={!!error?.fields.name}
              onChange={(e) => setName(e.target.value)}
            />
            {error?.fields.name && <p className="mt-1 text-xs text-red-700">{error.fields.name}</p>}
          </div>
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
            {error?.fields.rateLimitPerMinute && <p className="mt-1 text-xs text-red-700">{error.fields.rateLimitPerMinute}</p>}
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
          {error?.fields.scopes && <p className="mt-1 text-xs text-red-700">{error.fields.scopes}</p>}
        </fieldset>
        <div className="flex items-center gap-3">
          <button type="submit" className={buttonPrimary} disabled={create.isPending}>
            Create key
          </button>
          {error && !Object.keys(error.fields).length && (
            <p role="alert" className="text-sm text-red-700">
              {error.message}
            </p>
          )}
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
    </section>
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
        {revoke.error && (
          <p role="alert" className="text-xs text-red-700">
            {describeError(revoke.error).message}
          </p>
        )}
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
