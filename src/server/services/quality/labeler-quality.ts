// Runs the reliability model (src/quality) on the stored votes for the admin's quality page.
// A pair is its prompt text and its two completion texts, so overlap copies of a battle and
// gold pairs with the same texts are the same item; the A/B order is normalised (by the
// completions' hashes) so a pair shown the other way round still counts as the same item.
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { type Answer, type GoldAnswer, type Interval, MaceModel, type QualityState, type QualityVote } from "../../../quality/index.ts";

interface VoteRow {
  labelerId: string;
  choice: Answer;
  msToVote: number;
  hp: string;
  ha: string;
  hb: string;
}

const flip = (a: Answer): Answer => (a === "A" ? "B" : a === "B" ? "A" : a);

/** The item key and the answer as seen in the normalised order. */
function normalise(hp: string, ha: string, hb: string, answer: Answer): { item: string; answer: Answer } {
  return ha <= hb ? { item: `${hp}:${ha}:${hb}`, answer } : { item: `${hp}:${hb}:${ha}`, answer: flip(answer) };
}

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
  const [rows, goldRows, users] = await Promise.all([
    db.$queryRaw<VoteRow[]>`
      SELECT v."labelerId", v.choice::text AS choice, v."msToVote",
             md5(p.text) AS hp, md5(ca.text) AS ha, md5(cb.text) AS hb
        FROM "Vote" v
        JOIN "Battle" b ON b.id = v."battleId"
        JOIN "Prompt" p ON p.id = b."promptId"
        JOIN "Completion" ca ON ca."battleId" = b.id AND ca.slot = 'A'
        JOIN "Completion" cb ON cb."battleId" = b.id AND cb.slot = 'B'`,
    db.$queryRaw<{ hp: string; ha: string; hb: string; expected: "A" | "B" | "TIE" }[]>`
      SELECT md5("promptText") AS hp, md5("completionA") AS ha, md5("completionB") AS hb, expected::text AS expected
        FROM "GoldPair" WHERE active`,
    db.user.findMany({ select: { id: true, username: true, role: true, disabled: true } }),
  ]);

  const votes: QualityVote[] = rows.map((r) => {
    const n = normalise(r.hp, r.ha, r.hb, r.choice);
    return { labeler: r.labelerId, item: n.item, answer: n.answer };
  });
  const gold: GoldAnswer[] = goldRows.map((g) => {
    const n = normalise(g.hp, g.ha, g.hb, g.expected);
    return { item: n.item, answer: n.answer as GoldAnswer["answer"] };
  });
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
    activeGoldPairs: goldRows.length,
    labelers,
    flipRate: fit.flipRate,
    noPreferenceShare: fit.classPrior.NONE,
    level: model.level,
    fit: { iterations: fit.iterations, converged: fit.converged, ms: Math.round(ms) },
  };
}
