"use client";
// The loop settings, generated from the loop's schema (src/dpo/config.ts): labels, help and
// bounds come from there, so the form cannot drift from what the server accepts.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useEffect, useMemo, useState } from "react";
import { type LoopField, type LoopGroup, loopFields } from "@/dpo/config";
import { describeError, useTRPC } from "@/trpc/react";
import { card, input, label as labelClass } from "../../ui";
import { NumberField, SaveBar } from "../form-parts";

const GROUP_TITLES: Record<LoopGroup, string> = {
  schedule: "When a round starts",
  dpo: "Training and data",
  gates: "Gates: what a round must show before it is served",
};
const key = (f: { group: string; name: string }) => `${f.group}.${f.name}`;

function bounds(f: LoopField): string {
  const n = (x: number) => (Math.abs(x) >= 1e4 ? x.toLocaleString("en-US") : String(x));
  if (f.min !== null && f.max !== null) return ` (${n(f.min)}–${n(f.max)}${f.nullable ? "; empty = off" : ""})`;
  return f.nullable ? " (empty = off)" : "";
}

export function LoopSettingsForm() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const fields = useMemo(() => loopFields(), []);
  const settings = useQuery(trpc.rounds.settings.queryOptions());
  const [values, setValues] = useState<Record<string, string | boolean>>({});
  const [saved, setSaved] = useState(false);
  const save = useMutation(
    trpc.rounds.updateSettings.mutationOptions({
      onSuccess: (data) => {
        queryClient.setQueryData(trpc.rounds.settings.queryKey(), data);
        void queryClient.invalidateQueries({ queryKey: trpc.rounds.readiness.queryKey() });
        setSaved(true);
      },
    }),
  );
  useEffect(() => {
    const d = settings.data as Record<LoopGroup, Record<string, unknown>> | undefined;
    if (!d) return;
    const v: Record<string, string | boolean> = {};
    for (const f of fields) {
      const value = d[f.group][f.name];
      v[key(f)] = f.kind === "boolean" ? Boolean(value) : value === null || value === undefined ? "" : String(value);
    }
    setValues(v);
  }, [settings.data, fields]);

  const error = save.error ? describeError(save.error) : null;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setSaved(false);
    const patch: Record<LoopGroup, Record<string, unknown>> = { schedule: {}, dpo: {}, gates: {} };
    for (const f of fields) {
      const raw = values[key(f)];
      if (f.kind === "boolean") patch[f.group][f.name] = Boolean(raw);
      else if (f.kind === "enum") patch[f.group][f.name] = raw;
      // An empty gate is "off"; an empty number anywhere else is sent as NaN so the server names the field.
      else patch[f.group][f.name] = String(raw ?? "").trim() === "" ? (f.nullable ? null : Number.NaN) : Number(raw);
    }
    save.mutate(patch as never);
  };

  return (
    <section aria-labelledby="loop-settings-heading" className={card}>
      <h2 id="loop-settings-heading" className="text-lg font-semibold">
        Loop settings
      </h2>
      <p className="mt-1 text-sm text-slate-600">Read by each new round (a running round keeps the settings it started with).</p>
      {!settings.data ? (
        <p className="mt-3 text-sm text-slate-500">{settings.error ? describeError(settings.error).message : "Loading…"}</p>
      ) : (
        <form onSubmit={submit} className="mt-3 space-y-5" noValidate aria-label="Loop settings">
          {(["schedule", "gates", "dpo"] as const).map((group) => (
            <fieldset key={group}>
              <legend className="text-sm font-semibold text-slate-800">{GROUP_TITLES[group]}</legend>
              <div className="mt-2 grid gap-4 sm:grid-cols-3">
                {fields
                  .filter((f) => f.group === group)
                  .map((f) => {
                    const id = `loop-${f.group}-${f.name}`;
                    const err = error?.fields[key(f)];
                    if (f.kind === "boolean") {
                      return (
                        <label key={id} className="flex items-center gap-2 self-center text-sm text-slate-700">
                          <input
                            type="checkbox"
                            checked={Boolean(values[key(f)])}
                            onChange={(e) => setValues((v) => ({ ...v, [key(f)]: e.target.checked }))}
                          />
                          {f.label}
                        </label>
                      );
                    }
                    if (f.kind === "enum") {
                      return (
                        <div key={id}>
                          <label htmlFor={id} className={labelClass}>
                            {f.label}
                          </label>
                          <select
                            id={id}
                            className={`${input} mt-1`}
                            value={String(values[key(f)] ?? "")}
                            onChange={(e) => setValues((v) => ({ ...v, [key(f)]: e.target.value }))}
                          >
                            {f.options.map((o) => (
                              <option key={o} value={o}>
                                {o}
                              </option>
                            ))}
                          </select>
                          <p className={`mt-1 text-xs ${err ? "text-red-700" : "text-slate-500"}`}>{err ?? f.help}</p>
                        </div>
                      );
                    }
                    return (
                      <NumberField
                        key={id}
                        id={id}
                        label={f.label}
                        step={f.step ?? "any"}
                        value={String(values[key(f)] ?? "")}
                        error={err}
                        help={`${f.help}${bounds(f)}`}
                        onChange={(value) => setValues((v) => ({ ...v, [key(f)]: value }))}
                      />
                    );
                  })}
              </div>
            </fieldset>
          ))}
          <SaveBar label="Save loop settings" pending={save.isPending} saved={saved} error={error?.message} />
        </form>
      )}
    </section>
  );
}
