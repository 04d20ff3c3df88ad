// Is the loop ready for a round, and how much of the drift budget is spent? One answer for the
// schedule (workers/trainer-loop.ts), the admin's "Start a round now" and the rounds page.
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { countPairs, type PairCounts } from "./pairs.ts";
import { getLoopSettings, type LoopSettings } from "./settings.ts";

export interface DriftStatus {
  serving: { id: number; name: string } | null;
  root: { id: number; name: string } | null;
  /** rootKlBudget, nats per completion at the served length (null: the gate is off) */
  budget: number | null;
  /** the serving version's measured KL from the root: estimate and upper bound (null: not measured) */
  estimate: number | null;
  spent: number | null;
  left: number | null;
  exhausted: boolean;
  /** the round that measured it */
  measuredBy: number | null;
  advice: string | null;
}

export interface Readiness {
  counts: PairCounts;
  /** what a round would train on: new and returned pairs */
  trainable: number;
  minNewPairs: number;
  minHeldoutPairs: number;
  enoughTrain: boolean;
  enoughHeldout: boolean;
  drift: DriftStatus;
  /** true when a round may start without asking: enough data and budget left */
  ready: boolean;
  /** what is missing, in words an admin can act on */
  reasons: string[];
}

const DRIFT_ADVICE =
  'Raise β so rounds take smaller steps, set the reference to "fixed" so training pulls back toward the root, or raise the drift budget knowingly.';

export async function driftStatus(db: PrismaClient, settings: LoopSettings): Promise<DriftStatus> {
  const versions = await db.policyVersion.findMany({ select: { id: true, name: true, parentId: true, status: true } });
  const byId = new Map(versions.map((v) => [v.id, v]));
  const serving = versions.find((v) => v.status === "SERVING") ?? null;
  let root = serving;
  for (let guard = 0; root?.parentId != null && guard < versions.length; guard++) root = byId.get(root.parentId) ?? null;
  const budget = settings.gates.rootKlBudget;
  let estimate: number | null = null;
  let spent: number | null = null;
  let measuredBy: number | null = null;
  if (serving && root && serving.id === root.id) {
    estimate = spent = 0;
  } else if (serving) {
    const round = await db.trainingRound.findFirst({ where: { resultVersionId: serving.id }, select: { number: true, summary: true } });
    const kl = (round?.summary as { klRoot?: { kl?: number; ucb?: number } } | null)?.klRoot;
    if (round && typeof kl?.ucb === "number") {
      estimate = kl.kl ?? null;
      spent = kl.ucb;
      measuredBy = round.number;
    }
  }
  const exhausted = budget !== null && spent !== null && spent >= budget;
  return {
    serving: serving && { id: serving.id, name: serving.name },
    root: root && { id: root.id, name: root.name },
    budget,
    estimate,
    spent,
    left: budget !== null && spent !== null ? Math.max(0, budget - spent) : null,
    exhausted,
    measuredBy,
    advice: exhausted ? DRIFT_ADVICE : null,
  };
}

export async function loopReadiness({ db, settings }: { db: PrismaClient; settings?: LoopSettings }): Promise<Readiness> {
  const s = settings ?? (await getLoopSettings({ db }));
  const counts = await countPairs(db, { versus: s.dpo.versusPairs, heldoutFraction: s.dpo.heldoutFraction });
  const drift = await driftStatus(db, s);
  const trainable = counts.fresh + counts.returned;
  // The threshold counts NEW votes only: returned pairs ride along with the next round, but a
  // rejected round's own pairs must not trigger the same round again and again.
  const enoughTrain = counts.fresh >= s.schedule.minNewPairs;
  const enoughHeldout = counts.heldout >= s.gates.minHeldoutPairs;
  const reasons: string[] = [];
  const n = (x: number) => x.toLocaleString("en-US");
  if (!enoughTrain) reasons.push(`${n(counts.fresh)} of ${n(s.schedule.minNewPairs)} new votes a round waits for`);
  if (!enoughHeldout) {
    reasons.push(
      `${n(counts.heldout)} of the ${n(s.gates.minHeldoutPairs)} held-out votes the gates need; a round started now cannot pass its gates (its votes return to the pool)`,
    );
  }
  if (drift.exhausted)
    reasons.push(
      `the drift budget from ${drift.root?.name ?? "the root"} is spent (${drift.spent!.toFixed(1)} of ${drift.budget} nats). ${DRIFT_ADVICE}`,
    );
  return {
    counts,
    trainable,
    minNewPairs: s.schedule.minNewPairs,
    minHeldoutPairs: s.gates.minHeldoutPairs,
    enoughTrain,
    enoughHeldout,
    drift,
    ready: reasons.length === 0,
    reasons,
  };
}
