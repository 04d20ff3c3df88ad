"use client";
// Sampling and arena settings; the server validates and answers with field-level messages.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent } from "react";
import { describeError, useTRPC } from "@/trpc/react";
import { card } from "../ui";
import { NumberField, SaveBar } from "./form-parts";

type Fields = Record<string, string>;
const NUMERIC: { key: string; group: "sampling" | "arena"; name: string; label: string; step: string; help: string }[] = [
  { key: "sampling.temperature", group: "sampling", name: "temperature", label: "Temperature", step: "0.05", help: "> 0: two samples at 0 would be identical" },
  { key: "sampling.topP", group: "sampling", name: "topP", label: "Top-p", step: "0.01", help: "nucleus mass, (0, 1]" },
  { key: "sampling.topK", group: "sampling", name: "topK", label: "Top-k", step: "1", help: "0 turns it off" },
  { key: "sampling.maxNewTokens", group: "sampling", name: "maxNewTokens", label: "Max new tokens", step: "1", help: "1–512 per completion" },
  { key: "arena.onPolicyShare", group: "arena", name: "onPolicyShare", label: "On-policy share", step: "0.05", help: "battles of two serving samples (DPO data); the rest are serving vs an earlier version" },
  { key: "arena.battleLeaseMinutes", group: "arena", name: "battleLeaseMinutes", label: "Battle lease (minutes)", step: "1", help: "an unvoted battle returns to the pool after this" },
  { key: "arena.overlapTarget", group: "arena", name: "overlapTarget", label: "Default overlap target", step: "1", help: "labelers per imported prompt" },
];

export function SettingsForm() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const settings = useQuery(trpc.arena.settings.queryOptions());
  const [values, setValues] = useState<Fields>({});
  const [allowPrompts, setAllowPrompts] = useState(false);
  const [saved, setSaved] = useState(false);
  const save = useMutation(
    trpc.arena.updateSettings.mutationOptions({
      onSuccess: (data) => {
        queryClient.setQueryData(trpc.arena.settings.queryKey(), data);
        setSaved(true);
      },
    }),
  );

  useEffect(() => {
    if (!settings.data) return;
    const v: Fields = {};
    for (const f of NUMERIC) v[f.key] = String((settings.data[f.group] as Record<string, number>)[f.name]);
    setValues(v);
    setAllowPrompts(settings.data.arena.allowLabelerPrompts);
  }, [settings.data]);

  const error = save.error ? describeError(save.error) : null;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setSaved(false);
    const patch: { sampling: Record<string, number>; arena: Record<string, number | boolean> } = { sampling: {}, arena: { allowLabelerPrompts: allowPrompts } };
    for (const f of NUMERIC) patch[f.group][f.name] = values[f.key]?.trim() === "" ? Number.NaN : Number(values[f.key]);
    save.mutate(patch as never);
  };

  if (!settings.data) return <p className="mt-4 text-sm text-slate-500">{settings.error ? describeError(settings.error).message : "Loading…"}</p>;
  return (
    <form onSubmit={submit} className={`${card} mt-4 space-y-4`} noValidate aria-label="Sampling settings">
      <div className="grid gap-4 sm:grid-cols-2">
        {NUMERIC.map((f) => (
          <NumberField
            key={f.key}
            id={f.key}
            label={f.label}
            step={f.step}
            value={values[f.key] ?? ""}
            error={error?.fields[f.key]}
            help={f.help}
            onChange={(value) => setValues((v) => ({ ...v, [f.key]: value }))}
          />
        ))}
      </div>
      <label className="flex items-center gap-2 text-sm text-slate-700">
        <input type="checkbox" checked={allowPrompts} onChange={(e) => setAllowPrompts(e.target.checked)} />
        Labelers may type their own prompts
      </label>
      <SaveBar label="Save settings" pending={save.isPending} saved={saved} error={error?.message} />
    </form>
  );
}
