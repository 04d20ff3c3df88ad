"use client";
// Sampling and arena settings; the server validates and answers with field-level messages.
// Every field says in one line what it does, in words a new admin knows.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useEffect, useState } from "react";
import { describeError, useTRPC } from "@/trpc/react";
import { card, input, label } from "../ui";
import { NumberField, SaveBar } from "./form-parts";

type Fields = Record<string, string>;
type Unit = "bytes" | "tokens" | null;
interface NumericField {
  key: string;
  group: "sampling" | "arena";
  name: string;
  label: string | ((unit: Unit) => string);
  step: string;
  help: string | ((unit: Unit, version: string | null) => string);
}

const unitHelp = (unit: Unit, version: string | null): string => {
  const model = version ? `the serving model (${version})` : "the serving model";
  if (unit === "bytes")
    return `Length each completion aims for, in bytes: ${model} reads and writes bytes (about 6 per English word). It then stops at the next word or sentence end, or earlier if the model ends it.`;
  if (unit === "tokens")
    return `Length each completion aims for, in ${model}'s tokens (about ¾ of a word each). It then stops at the next word or sentence end, or earlier if the model ends it.`;
  return "Length each completion aims for, in the model's tokens (bytes for a byte-level model); it then stops at the next word or sentence end.";
};

const NUMERIC: NumericField[] = [
  {
    key: "sampling.temperature",
    group: "sampling",
    name: "temperature",
    label: "Temperature",
    step: "0.05",
    help: "Randomness of the text: lower is safer and more repetitive, higher more varied. Must be above 0, or both answers would be the same.",
  },
  {
    key: "sampling.topP",
    group: "sampling",
    name: "topP",
    label: "Top-p (nucleus mass)",
    step: "0.01",
    help: "Samples only from the most likely next tokens that together make up this share of probability; 1 keeps them all, 0.9 drops the unlikely tail.",
  },
  {
    key: "sampling.topK",
    group: "sampling",
    name: "topK",
    label: "Top-k",
    step: "1",
    help: "Samples only from the k most likely next tokens; 0 turns this limit off.",
  },
  {
    key: "sampling.maxNewTokens",
    group: "sampling",
    name: "maxNewTokens",
    label: (u) => (u === "bytes" ? "Max new tokens (bytes for this model)" : "Max new tokens"),
    step: "1",
    help: unitHelp,
  },
  {
    key: "arena.onPolicyShare",
    group: "arena",
    name: "onPolicyShare",
    label: "On-policy share",
    step: "0.05",
    help: "Share of battles that compare two answers of the serving model (what training learns from); the rest pit it against an earlier version (what the leaderboard rates).",
  },
  {
    key: "arena.contestantShare",
    group: "arena",
    name: "contestantShare",
    label: "Contestant share",
    step: "0.05",
    help: "Of the battles that are not on-policy, the share that pits the serving model against an external contestant (Admin → Contestants) instead of an earlier version. Used only while an enabled contestant is reachable; 0 turns contestants off.",
  },
  {
    key: "arena.battleLeaseMinutes",
    group: "arena",
    name: "battleLeaseMinutes",
    label: "Battle lease (minutes)",
    step: "1",
    help: "A battle nobody voted on within this time goes back to the pool for someone else.",
  },
  {
    key: "arena.overlapTarget",
    group: "arena",
    name: "overlapTarget",
    label: "Default overlap target",
    step: "1",
    help: "How many labelers judge each newly imported prompt (when the import does not say).",
  },
  {
    key: "arena.agreementShare",
    group: "arena",
    name: "agreementShare",
    label: "Agreement share",
    step: "0.05",
    help: "Share of new prompts that two labelers judge when the default overlap is 1, so labeler agreement and κ can be measured. 0 turns it off.",
  },
  {
    key: "arena.goldRate",
    group: "arena",
    name: "goldRate",
    label: "Gold rate",
    step: "0.01",
    help: "Share of battles that serve a gold pair (a pair with a known answer, see Labeler quality) while any is active. They look like any other battle; their votes check the labeler and never train or rate. 0 turns it off.",
  },
];

export function SettingsForm() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const settings = useQuery(trpc.arena.settings.queryOptions());
  const unit = useQuery(trpc.arena.lengthUnit.queryOptions());
  const [values, setValues] = useState<Fields>({});
  const [allowPrompts, setAllowPrompts] = useState(false);
  const [preferUncertain, setPreferUncertain] = useState(true);
  const [instructions, setInstructions] = useState("");
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
    for (const f of NUMERIC) v[f.key] = String((settings.data[f.group] as Record<string, unknown>)[f.name]);
    setValues(v);
    setAllowPrompts(settings.data.arena.allowLabelerPrompts);
    setPreferUncertain(settings.data.arena.overlapPreferUncertain);
    setInstructions(settings.data.arena.instructions);
  }, [settings.data]);

  const error = save.error ? describeError(save.error) : null;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setSaved(false);
    const patch: { sampling: Record<string, number>; arena: Record<string, number | boolean | string> } = {
      sampling: {},
      arena: { allowLabelerPrompts: allowPrompts, overlapPreferUncertain: preferUncertain, instructions },
    };
    for (const f of NUMERIC) patch[f.group][f.name] = values[f.key]?.trim() === "" ? Number.NaN : Number(values[f.key]);
    save.mutate(patch as never);
  };

  if (!settings.data)
    return <p className="mt-4 text-sm text-slate-500">{settings.error ? describeError(settings.error).message : "Loading…"}</p>;
  const u = unit.data?.unit ?? null;
  const version = unit.data?.version ?? null;
  const instructionsError = error?.fields["arena.instructions"];
  return (
    <form onSubmit={submit} className={`${card} mt-4 space-y-4`} noValidate aria-label="Sampling settings">
      <div className="grid gap-4 sm:grid-cols-2">
        {NUMERIC.map((f) => (
          <NumberField
            key={f.key}
            id={f.key}
            label={typeof f.label === "string" ? f.label : f.label(u)}
            step={f.step}
            value={values[f.key] ?? ""}
            error={error?.fields[f.key]}
            help={typeof f.help === "string" ? f.help : f.help(u, version)}
            onChange={(value) => setValues((v) => ({ ...v, [f.key]: value }))}
          />
        ))}
      </div>
      <label className="flex items-center gap-2 text-sm text-slate-700">
        <input type="checkbox" checked={allowPrompts} onChange={(e) => setAllowPrompts(e.target.checked)} />
        Labelers may type their own prompts
      </label>
      <label className="flex items-center gap-2 text-sm text-slate-700">
        <input type="checkbox" checked={preferUncertain} onChange={(e) => setPreferUncertain(e.target.checked)} />
        Second looks at overlap prompts go first to the labelers whose reliability is least certain
      </label>
      <div>
        <label htmlFor="arena.instructions" className={label}>
          Instructions for labelers
        </label>
        <textarea
          id="arena.instructions"
          rows={4}
          maxLength={2000}
          className={`${input} mt-1 text-sm`}
          value={instructions}
          aria-invalid={!!instructionsError}
          aria-describedby="arena.instructions-help"
          onChange={(e) => setInstructions(e.target.value)}
        />
        <p id="arena.instructions-help" className={`mt-1 text-xs ${instructionsError ? "text-red-700" : "text-slate-500"}`}>
          {instructionsError ??
            'What "better" means here. Shown to each labeler the first time they open the arena (and again after you change it), and under "How to judge". One paragraph per line.'}
        </p>
      </div>
      <SaveBar label="Save settings" pending={save.isPending} saved={saved} error={error?.message} />
    </form>
  );
}
