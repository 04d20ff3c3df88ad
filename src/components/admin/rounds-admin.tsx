"use client";
// Training rounds (the loop's `rounds` router): list with status, live curves of the selected
// round while it runs, its gates and final metrics, trigger / cancel; policy versions with
// promote and roll back; the loop settings (schedule, DPO hyperparameters, gates).
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent } from "react";
import { describeError, useTRPC } from "@/trpc/react";
import { buttonDanger, buttonPrimary, buttonSecondary, card, input, label } from "../ui";
import { LineChart } from "./charts";
import { NumberField, SaveBar } from "./form-parts";

const ACTIVE = new Set(["QUEUED", "RUNNING"]);
const STATUS_STYLE: Record<string, string> = {
  QUEUED: "bg-amber-100 text-amber-800",
  RUNNING: "bg-blue-100 text-blue-800",
  SUCCEEDED: "bg-green-100 text-green-800",
  REJECTED: "bg-orange-100 text-orange-800",
  FAILED: "bg-red-100 text-red-800",
  CANCELLED: "bg-slate-100 text-slate-600",
};

export function RoundsAdmin() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const rounds = useQuery({ ...trpc.rounds.list.queryOptions({ limit: 50 }), refetchInterval: 3000 });
  const [selected, setSelected] = useState<string | null>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.rounds.pathKey() });
  const trigger = useMutation(trpc.rounds.trigger.mutationOptions({ onSuccess: (r) => (setSelected(r.round.id), refresh()) }));
  const cancel = useMutation(trpc.rounds.cancel.mutationOptions({ onSuccess: refresh }));
  const selectedId = selected ?? rounds.data?.[0]?.id ?? null;
  const actionError = trigger.error ?? cancel.error;

  return (
    <div className="mt-4 space-y-6">
      <section aria-labelledby="rounds-heading" className={card}>
        <div className="flex flex-wrap items-center justify-between gap-2">
          <h2 id="rounds-heading" className="text-lg font-semibold">
            Rounds
          </h2>
          <button type="button" className={buttonPrimary} disabled={trigger.isPending} onClick={() => trigger.mutate({})}>
            Start a round now
          </button>
        </div>
        {actionError && (
          <p role="alert" className="mt-2 text-sm text-red-700">
            {describeError(actionError).message}
          </p>
        )}
        {rounds.data?.length === 0 && <p className="mt-3 text-sm text-slate-500">No rounds yet. One starts automatically once enough new votes exist, or start one now.</p>}
        <ul className="mt-3 divide-y divide-slate-100" data-testid="round-list">
          {rounds.data?.map((r) => (
            <li key={r.id} data-testid="round-row" data-status={r.status} className={`flex flex-wrap items-center justify-between gap-2 py-2 ${r.id === selectedId ? "bg-indigo-50/50" : ""}`}>
              <button type="button" className="min-w-0 flex-1 text-left" onClick={() => setSelected(r.id)}>
                <span className="font-medium">Round {r.number}</span>{" "}
                <span className={`ml-1 rounded-full px-2 py-0.5 text-xs font-medium ${STATUS_STYLE[r.status] ?? ""}`}>{r.status.toLowerCase()}</span>
                <span className="ml-2 text-xs text-slate-500">
                  {r.baseVersion?.name ?? "?"} → {r.resultVersion?.name ?? "…"} · {r.pairsTrain} train / {r.pairsHeldout} held-out pairs
                  {r.lastMetric ? ` · step ${r.lastMetric.step}` : ""}
                </span>
                {r.error && <span className="block text-xs text-red-700">{r.error}</span>}
              </button>
              {ACTIVE.has(r.status) && (
                <button type="button" className={buttonDanger} disabled={cancel.isPending} onClick={() => cancel.mutate({ roundId: r.id })}>
                  Cancel
                </button>
              )}
            </li>
          ))}
        </ul>
      </section>
      {/* keyed: another round starts from an empty series instead of appending to this one */}
      {selectedId && <RoundDetail key={selectedId} roundId={selectedId} />}
      <Versions />
      <LoopSettingsForm />
    </div>
  );
}

type Series = { step: number; values: Record<string, number> }[];

type Gate = { name: string; passed: boolean; value: number | null; threshold: number | null; detail?: string };
type Eval = { n: number; accuracy: number; loss: number; rewardMargin: number } | null;
type Summary = { steps?: number; seconds?: number; pairsPerSecond?: number; last?: Record<string, number>; heldout?: Eval; heldoutBefore?: Eval; kl?: { kl: number; stderr: number; n: number } | null };

function RoundDetail({ roundId }: { roundId: string }) {
  const trpc = useTRPC();
  const [series, setSeries] = useState<Series>([]);
  const lastStep = series.at(-1)?.step ?? -1;
  // Polls only the steps after the last one it has, every 2 s while the round is active.
  const round = useQuery({
    ...trpc.rounds.get.queryOptions({ roundId, afterStep: lastStep }),
    refetchInterval: (q) => (q.state.data && !ACTIVE.has(q.state.data.status) ? false : 1000),
  });
  useEffect(() => {
    const fresh = round.data?.metrics;
    if (!fresh?.length) return;
    setSeries((s) => {
      const known = s.at(-1)?.step ?? -1;
      return [...s, ...fresh.filter((m) => m.step > known).map((m) => ({ step: m.step, values: m.values as Record<string, number> }))];
    });
  }, [round.data]);

  const steps = series.map((m) => m.step);
  const col = (name: string) => series.map((m) => (typeof m.values[name] === "number" ? m.values[name] : null));
  const r = round.data;
  const summary = (r?.summary ?? null) as Summary | null;
  return (
    <section aria-labelledby="round-detail-heading" className={card} data-testid="round-detail" data-status={r?.status}>
      <h2 id="round-detail-heading" className="text-lg font-semibold">
        {r ? `Round ${r.number}: ${r.status.toLowerCase()}` : "Round"}
      </h2>
      {r?.gates != null && (
        <ul className="mt-2 flex flex-wrap gap-2 text-xs" aria-label="Gates" data-testid="round-gates">
          {(r.gates as Gate[]).map((g) => (
            <li key={g.name} title={g.detail} className={`rounded px-2 py-0.5 ${g.passed ? "bg-green-100 text-green-800" : "bg-red-100 text-red-800"}`}>
              {g.passed ? "passed" : "failed"} {g.name}: {g.value === null ? "—" : g.value.toFixed(3)} (limit {g.threshold ?? "—"})
            </li>
          ))}
        </ul>
      )}
      {summary && <RoundSummary summary={summary} />}
      {series.length === 0 ? (
        <p className="mt-3 text-sm text-slate-500">No training steps recorded yet.</p>
      ) : (
        <div className="mt-3 grid gap-4 md:grid-cols-3">
          <LineChart testId="curve-loss" label="Loss per step" labels={steps} series={[{ name: "loss", data: col("loss") }]} />
          <LineChart testId="curve-margin" label="Reward margin per step" labels={steps} series={[{ name: "rewards/margins", data: col("rewards/margins") }]} />
          <LineChart testId="curve-accuracy" label="Reward accuracy per step" labels={steps} series={[{ name: "rewards/accuracies", data: col("rewards/accuracies") }]} />
        </div>
      )}
    </section>
  );
}

const fmt = (v: number | undefined | null, digits = 3) => (typeof v === "number" && Number.isFinite(v) ? v.toFixed(digits) : "—");

/** The finished round's numbers: held-out evaluation before → after training, KL, and speed. */
function RoundSummary({ summary: s }: { summary: Summary }) {
  const rows: [string, string][] = [];
  if (s.heldout) {
    rows.push([`Held-out accuracy (${s.heldout.n} pairs)`, `${fmt(s.heldoutBefore?.accuracy)} → ${fmt(s.heldout.accuracy)}`]);
    rows.push(["Held-out loss", `${fmt(s.heldoutBefore?.loss)} → ${fmt(s.heldout.loss)}`]);
    rows.push(["Held-out reward margin", fmt(s.heldout.rewardMargin)]);
  }
  if (s.kl) rows.push([`KL to reference (${s.kl.n} samples)`, `${fmt(s.kl.kl)} ± ${fmt(s.kl.stderr)} nats`]);
  if (s.last) rows.push(["Last step loss / margin / accuracy", `${fmt(s.last.loss)} / ${fmt(s.last["rewards/margins"])} / ${fmt(s.last["rewards/accuracies"], 2)}`]);
  if (s.steps !== undefined) rows.push(["Steps, time", `${s.steps} steps in ${fmt(s.seconds, 1)} s (${fmt(s.pairsPerSecond, 2)} pairs/s)`]);
  return (
    <dl className="mt-3 grid grid-cols-1 gap-x-6 gap-y-1 text-sm sm:grid-cols-2" data-testid="round-summary">
      {rows.map(([k, v]) => (
        <div key={k} className="flex justify-between gap-2 border-b border-slate-100 py-1">
          <dt className="text-slate-600">{k}</dt>
          <dd className="font-mono">{v}</dd>
        </div>
      ))}
    </dl>
  );
}

function Versions() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const versions = useQuery({ ...trpc.rounds.versions.queryOptions(), refetchInterval: 5000 });
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.rounds.pathKey() });
  const promote = useMutation(trpc.rounds.promote.mutationOptions({ onSuccess: refresh }));
  const rollback = useMutation(trpc.rounds.rollback.mutationOptions({ onSuccess: refresh }));
  const err = promote.error ?? rollback.error;
  const list = (versions.data ?? []) as { id: number; name: string; status: string; createdAt: Date | string }[];
  return (
    <section aria-labelledby="versions-heading" className={card}>
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h2 id="versions-heading" className="text-lg font-semibold">
          Policy versions
        </h2>
        <button type="button" className={buttonSecondary} disabled={rollback.isPending} onClick={() => rollback.mutate({})}>
          Roll back to the previous version
        </button>
      </div>
      {err && (
        <p role="alert" className="mt-2 text-sm text-red-700">
          {describeError(err).message}
        </p>
      )}
      <ul className="mt-3 divide-y divide-slate-100" data-testid="version-list">
        {list.map((v) => (
          <li key={v.id} data-testid="version-row" data-name={v.name} data-status={v.status} className="flex items-center justify-between gap-2 py-2 text-sm">
            <span>
              <span className="font-mono font-semibold">{v.name}</span>{" "}
              <span className={`ml-1 rounded-full px-2 py-0.5 text-xs ${v.status === "SERVING" ? "bg-green-100 text-green-800" : "bg-slate-100 text-slate-600"}`}>{v.status.toLowerCase()}</span>
            </span>
            {v.status !== "SERVING" && (
              <button type="button" className={buttonSecondary} disabled={promote.isPending} onClick={() => {
                  // A rejected version failed a gate: serving it anyway is a deliberate override.
                  if (v.status === "REJECTED" && !window.confirm(`${v.name} failed a gate when it was trained. Serve it anyway?`)) return;
                  promote.mutate({ versionId: v.id, allowRejected: v.status === "REJECTED" });
                }}>
                Promote
              </button>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

type Group = "schedule" | "dpo" | "gates";
const LOOP_FIELDS: { group: Group; name: string; label: string; step: string; help: string; nullable?: boolean }[] = [
  { group: "schedule", name: "minNewPairs", label: "New votes per round", step: "1", help: "a round starts once this many unused A/B votes exist" },
  { group: "dpo", name: "beta", label: "β", step: "0.01", help: "strength of the KL penalty, (0, 10]" },
  { group: "dpo", name: "learningRate", label: "Learning rate", step: "0.0001", help: "1e-7 to 1e-2" },
  { group: "dpo", name: "epochs", label: "Epochs", step: "1", help: "passes over the round's pairs" },
  { group: "dpo", name: "batchPairs", label: "Pairs per step", step: "1", help: "1–64" },
  { group: "dpo", name: "maxPairs", label: "Max new pairs", step: "1", help: "newest unused votes first" },
  { group: "dpo", name: "minPairs", label: "Min pairs", step: "1", help: "fewer usable pairs fail the round" },
  { group: "dpo", name: "heldoutFraction", label: "Held-out fraction", step: "0.05", help: "of prompts, for evaluation and gates" },
  { group: "dpo", name: "klPrompts", label: "KL prompts", step: "1", help: "samples for the KL estimate" },
  { group: "gates", name: "minHeldoutAccuracy", label: "Gate: held-out accuracy >", step: "0.01", help: "empty turns the gate off", nullable: true },
  { group: "gates", name: "maxHeldoutLoss", label: "Gate: held-out loss <", step: "0.01", help: "empty turns the gate off", nullable: true },
  { group: "gates", name: "klBudget", label: "Gate: KL budget (nats) ≤", step: "0.5", help: "empty turns the gate off", nullable: true },
];
const fieldKey = (f: { group: Group; name: string }) => `${f.group}.${f.name}`;

function LoopSettingsForm() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const settings = useQuery(trpc.rounds.settings.queryOptions());
  const [values, setValues] = useState<Record<string, string>>({});
  const [autoTrain, setAutoTrain] = useState(true);
  const [saved, setSaved] = useState(false);
  const save = useMutation(
    trpc.rounds.updateSettings.mutationOptions({
      onSuccess: (data) => {
        queryClient.setQueryData(trpc.rounds.settings.queryKey(), data);
        setSaved(true);
      },
    }),
  );
  useEffect(() => {
    const d = settings.data;
    if (!d) return;
    const v: Record<string, string> = {};
    for (const f of LOOP_FIELDS) {
      const value = (d[f.group] as Record<string, unknown>)[f.name];
      v[fieldKey(f)] = typeof value === "number" ? String(value) : "";
    }
    setValues(v);
    setAutoTrain(d.schedule.autoTrain);
  }, [settings.data]);

  const error = save.error ? describeError(save.error) : null;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setSaved(false);
    const patch: Record<Group, Record<string, number | boolean | null>> = { schedule: { autoTrain }, dpo: {}, gates: {} };
    for (const f of LOOP_FIELDS) {
      const raw = values[fieldKey(f)]?.trim() ?? "";
      // An empty gate is "off"; an empty number anywhere else is sent as NaN so the server names the field.
      patch[f.group][f.name] = raw === "" ? (f.nullable ? null : Number.NaN) : Number(raw);
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
        <form onSubmit={submit} className="mt-3 space-y-4" noValidate aria-label="Loop settings">
          <label className="flex items-center gap-2 text-sm text-slate-700">
            <input type="checkbox" checked={autoTrain} onChange={(e) => setAutoTrain(e.target.checked)} />
            Start rounds automatically
          </label>
          <div className="grid gap-4 sm:grid-cols-3">
            {LOOP_FIELDS.map((f) => {
              const id = `loop-${f.group}-${f.name}`;
              return (
                <NumberField
                  key={id}
                  id={id}
                  label={f.label}
                  step={f.step}
                  value={values[fieldKey(f)] ?? ""}
                  error={error?.fields[fieldKey(f)]}
                  help={f.help}
                  onChange={(value) => setValues((v) => ({ ...v, [fieldKey(f)]: value }))}
                />
              );
            })}
          </div>
          <SaveBar label="Save loop settings" pending={save.isPending} saved={saved} error={error?.message} />
        </form>
      )}
    </section>
  );
}
