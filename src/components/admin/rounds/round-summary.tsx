"use client";
// A finished round's numbers: held-out before → after, how far it moved (from its reference and
// from the lineage root, at T = 1 and at the served settings), which checkpoint was kept, and
// what data it used.
import type { ReactNode } from "react";
import type { Usage } from "@/server/services/rounds/prepare";
import { Num, plural } from "./format";

/** What a round used, as the server stores it (TrainingRound.usage). */
export type { Usage };

type Eval = { n: number; accuracy: number; loss: number; rewardMargin: number; prompts?: number } | null;
type KL = { kl: number; stderr: number; ucb: number; n: number; prompts: number; meanTokens: number } | null;
export type Summary = {
  steps?: number;
  seconds?: number;
  pairsPerSecond?: number;
  last?: Record<string, number>;
  heldout?: Eval;
  heldoutBefore?: Eval;
  klRound?: KL;
  klRoot?: KL;
  klServed?: Record<string, KL> | null;
  root?: { name: string };
  served?: { maxNewTokens: number; temperature: number; topP: number };
  selectedStep?: number;
  stoppedEarly?: string | null;
  // rounds recorded before the drift measurement
  kl?: { kl: number; stderr: number; n: number } | null;
};
function KLText({ kl, served }: { kl: KL; served: KL | undefined }) {
  if (!kl) return <>—</>;
  return (
    <>
      <Num value={kl.kl} digits={2} /> ± <Num value={kl.stderr} digits={2} /> nats (upper bound <Num value={kl.ucb} digits={2} />)
      {served ? (
        <>
          ; at the served settings <Num value={served.kl} digits={2} />
        </>
      ) : null}
    </>
  );
}

export function RoundSummary({ summary: s, usage }: { summary: Summary; usage: Usage | null }) {
  const rows: [string, ReactNode][] = [];
  if (usage) {
    rows.push([
      "Pairs used",
      `${plural(usage.new, "new pair")}, ${usage.returned.toLocaleString("en-US")} returned, ${usage.versus.toLocaleString("en-US")} serving-vs-earlier, ${usage.heldout.toLocaleString("en-US")} held out (${plural(usage.heldoutPrompts, "prompt")})`,
    ]);
    if (usage.doubtful !== undefined) rows.push(["Doubtful votes left out", plural(usage.doubtful, "pair")]);
    if (usage.meanWeight !== undefined) rows.push(["Mean vote weight", usage.meanWeight.toFixed(2)]);
    // Offline sources, when a round used any (counted in the new / returned pairs above too).
    if (usage.imported || usage.api)
      rows.push(["Of the training pairs", `${plural(usage.imported ?? 0, "imported pair")}, ${plural(usage.api ?? 0, "API preference")}`]);
  }
  if (s.heldout) {
    rows.push([
      `Held-out accuracy (${plural(s.heldout.n, "pair")})`,
      <>
        <Num value={s.heldoutBefore?.accuracy} /> → <Num value={s.heldout.accuracy} />
      </>,
    ]);
    rows.push([
      "Held-out loss",
      <>
        <Num value={s.heldoutBefore?.loss} /> → <Num value={s.heldout.loss} />
      </>,
    ]);
  }
  const served = s.served ? ` (${s.served.maxNewTokens} tokens, T = 1)` : "";
  if (s.klRound !== undefined)
    rows.push([`KL from its reference${served}`, <KLText kl={s.klRound ?? null} served={s.klServed?.reference ?? undefined} />]);
  if (s.klRoot !== undefined)
    rows.push([
      `KL from the root ${s.root?.name ?? ""}${served}`,
      <KLText kl={s.klRoot ?? null} served={s.klServed?.root ?? s.klServed?.reference ?? undefined} />,
    ]);
  if (s.kl)
    rows.push([
      `KL to reference (${s.kl.n} samples)`,
      <>
        <Num value={s.kl.kl} /> ± <Num value={s.kl.stderr} /> nats
      </>,
    ]);
  if (s.selectedStep !== undefined && s.steps !== undefined) {
    rows.push([
      "Checkpoint kept",
      `after step ${s.selectedStep} of ${s.steps}${s.stoppedEarly ? ` (stopped early: ${s.stoppedEarly})` : ""}`,
    ]);
  }
  if (s.last)
    rows.push([
      "Last step loss / margin / accuracy",
      <>
        <Num value={s.last.loss} /> / <Num value={s.last["rewards/margins"]} /> / <Num value={s.last["rewards/accuracies"]} digits={2} />
      </>,
    ]);
  if (s.steps !== undefined)
    rows.push([
      "Steps, time",
      <>
        {s.steps} steps in <Num value={s.seconds} digits={1} /> s (<Num value={s.pairsPerSecond} digits={2} /> pairs/s)
      </>,
    ]);
  return (
    <dl className="mt-3 grid grid-cols-1 gap-x-6 gap-y-1 text-sm sm:grid-cols-2" data-testid="round-summary">
      {rows.map(([k, v]) => (
        <div key={k} className="flex justify-between gap-2 border-b border-slate-100 py-1">
          <dt className="text-slate-600">{k}</dt>
          <dd className="text-right font-mono">{v}</dd>
        </div>
      ))}
    </dl>
  );
}
