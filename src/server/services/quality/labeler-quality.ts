// Runs the reliability model (src/quality) on the stored votes (inputs.ts) for the admin's
// quality page.
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { type Interval, MaceModel, type QualityState } from "../../../quality/index.ts";
import { loadQualityInputs } from "./inputs.ts";

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export interface LabelerQualityRow {
  labelerId: string;
  username: string;
  role: "LABELER" | "ADMIN";
  disabled: boolean;
  /** votes left out of training and ratings (exclusion.ts) */
  excluded: boolean;
  votes: number;
  decisiveVotes: number;
  overlappingVotes: number;
  evidence: number;
  reliability: Interval;
  flipRate: Interval;
  aboveChance: number;
  habit: { A: number; B: number; NONE: number };
  agreement: { agree: number; compared: number; rate: number | null };
  gold: { correct: number; total: number; accuracy: number | null };
  flag: "no-evidence" | "chance" | null;
  medianMsToVote: number | null;
  tieRate: number | null;
}

export interface LabelerQualityReport {
  computedAt: Date;
  votes: number;
  goldVotes: number;
  activeGoldPairs: number;
  labelers: LabelerQualityRow[];
  /** the ε an admin would give the robust DPO loss: decisive-vote-weighted mean flip rate */
  flipRate: Interval & { decisiveVotes: number };
  noPreferenceShare: number;
  level: number;
  fit: { iterations: number; converged: boolean; ms: number };
}

// Re-fits start from the previous fit's parameters (per database client), so a page refresh
// after a few new votes converges in a few EM passes.
const lastState = new WeakMap<PrismaClient, QualityState>();

export async function labelerQuality({
  db,
  model = new MaceModel(),
}: {
  db: PrismaClient;
  model?: MaceModel;
}): Promise<LabelerQualityReport> {
  const [{ rows, votes, gold }, users] = await Promise.all([
    loadQualityInputs(db),
    db.user.findMany({ select: { id: true, username: true, role: true, disabled: true, excluded: true } }),
  ]);
  const goldItems = new Set(gold.map((g) => g.item));

  const started = performance.now();
  const fit = model.fit(votes, { gold, warmStart: lastState.get(db) });
  const ms = performance.now() - started;
  lastState.set(db, fit.state);

  const speed = new Map<string, number[]>();
  const ties = new Map<string, number>();
  for (const r of rows) {
    const s = speed.get(r.labelerId) ?? [];
    if (s.length === 0) speed.set(r.labelerId, s);
    s.push(r.msToVote);
    if (r.choice === "TIE") ties.set(r.labelerId, (ties.get(r.labelerId) ?? 0) + 1);
  }
  const estimates = new Map(fit.labelers.map((l) => [l.labeler, l]));
  // A labeler without votes shows the prior: what one unchecked vote leaves the model with.
  const prior = model.fit([{ labeler: "prior", item: "prior", answer: "A" }]).labelers[0]!;
  const shown = users.filter((u) => u.role === "LABELER" || estimates.has(u.id));
  const labelers = shown.map((u): LabelerQualityRow => {
    const e = estimates.get(u.id);
    const times = speed.get(u.id) ?? [];
    return {
      labelerId: u.id,
      username: u.username,
      role: u.role,
      disabled: u.disabled,
      excluded: u.excluded,
      votes: e?.votes ?? 0,
      decisiveVotes: e?.decisiveVotes ?? 0,
      overlappingVotes: e?.overlappingVotes ?? 0,
      evidence: e?.evidence ?? 0,
      reliability: e?.reliability ?? prior.reliability,
      flipRate: e?.flipRate ?? prior.flipRate,
      aboveChance: e?.aboveChance ?? 0,
      habit: e?.habit ?? { A: 1 / 3, B: 1 / 3, NONE: 1 / 3 },
      agreement: e?.agreement ?? { agree: 0, compared: 0, rate: null },
      gold: e?.gold ?? { correct: 0, total: 0, accuracy: null },
      flag: e ? e.flag : "no-evidence",
      medianMsToVote: median(times),
      tieRate: times.length ? (ties.get(u.id) ?? 0) / times.length : null,
    };
  });
  // Least trustworthy first: that is what an admin opens this page for.
  labelers.sort((a, b) => b.flipRate.estimate - a.flipRate.estimate || a.username.localeCompare(b.username));

  return {
    computedAt: new Date(),
    votes: votes.length,
    goldVotes: votes.filter((v) => goldItems.has(v.item)).length,
    activeGoldPairs: gold.length,
    labelers,
    flipRate: fit.flipRate,
    noPreferenceShare: fit.classPrior.NONE,
    level: model.level,
    fit: { iterations: fit.iterations, converged: fit.converged, ms: Math.round(ms) },
  };
}
