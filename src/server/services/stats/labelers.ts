// Per-labeler statistics for admins and for a labeler's own "my stats", computed from votes.
// An overlapping item is one prompt with the same two completions in the same order.
import { Prisma, type PrismaClient } from "../../../generated/prisma/client.ts";
import { cohenKappa, fleissKappa, majorityAgreement, pairwiseAgreement, type Rating } from "./agreement.ts";

interface VoteRow {
  labelerId: string;
  choice: string;
  msToVote: number;
  createdAt: Date;
  item: string;
}

async function voteRows(db: PrismaClient): Promise<VoteRow[]> {
  return db.$queryRaw<VoteRow[]>`
    SELECT v."labelerId", v.choice::text AS choice, v."msToVote", v."createdAt",
           b."promptId" || ':' || md5(ca.text) || ':' || md5(cb.text) AS item
      FROM "Vote" v
      JOIN "Battle" b ON b.id = v."battleId"
      JOIN "Completion" ca ON ca."battleId" = b.id AND ca.slot = 'A'
      JOIN "Completion" cb ON cb."battleId" = b.id AND cb.slot = 'B'`;
}

/** Every vote on the prompts this labeler voted on, as agreement items (see myStats). */
export function myItemsQuery(labelerId: string): Prisma.Sql {
  return Prisma.sql`
    SELECT v."labelerId", v.choice::text AS choice, v."msToVote", v."createdAt",
           b."promptId" || ':' || md5(ca.text) || ':' || md5(cb.text) AS item
      FROM "Battle" b
      JOIN "Vote" v ON v."battleId" = b.id
      JOIN "Completion" ca ON ca."battleId" = b.id AND ca.slot = 'A'
      JOIN "Completion" cb ON cb."battleId" = b.id AND cb.slot = 'B'
     WHERE b."promptId" IN (SELECT mb."promptId" FROM "Vote" mv JOIN "Battle" mb ON mb.id = mv."battleId"
                             WHERE mv."labelerId" = ${labelerId})`;
}

function startOfUtcDay(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const toRatings = (rows: VoteRow[]): Rating[] => rows.map((r) => ({ item: r.item, rater: r.labelerId, category: r.choice }));

export interface MyStats {
  votesToday: number;
  votesTotal: number;
  skipped: number;
  /** share of other labelers' votes on your overlapping items that match yours */
  agreement: { rate: number | null; compared: number };
}

export async function myStats({ db, labelerId, now = new Date() }: { db: PrismaClient; labelerId: string; now?: Date }): Promise<MyStats> {
  const [votesTotal, votesToday, skipped] = await Promise.all([
    db.vote.count({ where: { labelerId } }),
    db.vote.count({ where: { labelerId, createdAt: { gte: startOfUtcDay(now) } } }),
    db.battle.count({ where: { labelerId, status: "SKIPPED" } }),
  ]);
  // Only items this labeler voted on matter; other labelers' votes on them are few. Every step
  // is an index lookup (Vote by labeler, Battle by prompt, Vote and Completion by battle): the
  // cost follows this labeler's votes and their overlaps, not the whole table, which the page
  // asks for again after every vote (issue 16 item 4; `npm run bench -- stats`).
  const rows = await db.$queryRaw<VoteRow[]>(myItemsQuery(labelerId));
  const a = pairwiseAgreement(toRatings(rows), labelerId);
  return { votesToday, votesTotal, skipped, agreement: { rate: a.compared ? a.agree / a.compared : null, compared: a.compared } };
}

export interface LabelerStats {
  labelerId: string;
  username: string;
  disabled: boolean;
  votes: number;
  votesToday: number;
  skipped: number;
  medianMsToVote: number | null;
  tieRate: number | null;
  bothBadRate: number | null;
  majorityAgreement: { rate: number | null; compared: number };
  /** mean Cohen's κ with each labeler sharing at least one item (weighted by shared items) */
  meanCohenKappa: number | null;
  /** answers on gold battles that match the gold answer (TIE and BOTH_BAD both mean "no preference") */
  gold: { correct: number; total: number; accuracy: number | null };
  /** their votes are left out of training and ratings (labeler quality) */
  excluded: boolean;
}

/** Per labeler: votes on gold battles, and how many matched the gold answer in the order shown. */
async function goldAnswers(db: PrismaClient): Promise<Map<string, { correct: number; total: number }>> {
  const rows = await db.$queryRaw<{ labelerId: string; correct: number; total: number }[]>`
    SELECT v."labelerId", count(*)::int AS total,
           count(*) FILTER (WHERE
             CASE WHEN v.choice IN ('TIE', 'BOTH_BAD') THEN 'TIE'
                  WHEN (v.choice = 'A') <> b.swapped THEN 'A' ELSE 'B' END = g.expected::text)::int AS correct
      FROM "Vote" v
      JOIN "Battle" b ON b.id = v."battleId"
      JOIN "GoldPair" g ON g.id = b."goldPairId"
     GROUP BY v."labelerId"`;
  return new Map(rows.map((r) => [r.labelerId, { correct: r.correct, total: r.total }]));
}

export interface LabelerReport {
  labelers: LabelerStats[];
  fleissKappa: { kappa: number | null; items: number };
  cohenPairs: { a: string; b: string; kappa: number | null; shared: number }[];
}

export async function labelerReport({ db, now = new Date() }: { db: PrismaClient; now?: Date }): Promise<LabelerReport> {
  const [users, rows, skips, gold] = await Promise.all([
    db.user.findMany({
      where: { role: "LABELER" },
      select: { id: true, username: true, disabled: true, excluded: true },
      orderBy: { username: "asc" },
    }),
    voteRows(db),
    db.battle.groupBy({ by: ["labelerId"], where: { status: "SKIPPED" }, _count: { _all: true } }),
    goldAnswers(db),
  ]);
  const ratings = toRatings(rows);
  const today = startOfUtcDay(now);
  const majority = majorityAgreement(ratings);
  const names = new Map(users.map((u) => [u.id, u.username]));

  const raters = [...new Set(rows.map((r) => r.labelerId))];
  const cohenPairs: LabelerReport["cohenPairs"] = [];
  for (let i = 0; i < raters.length; i++) {
    for (let j = i + 1; j < raters.length; j++) {
      const k = cohenKappa(ratings, raters[i]!, raters[j]!);
      if (k.shared > 0) cohenPairs.push({ a: names.get(raters[i]!) ?? raters[i]!, b: names.get(raters[j]!) ?? raters[j]!, ...k });
    }
  }

  const labelers = users.map((u): LabelerStats => {
    const mine = rows.filter((r) => r.labelerId === u.id);
    const n = mine.length;
    const maj = majority.get(u.id) ?? { agree: 0, compared: 0 };
    let weighted = 0;
    let weight = 0;
    for (const p of cohenPairs) {
      if ((p.a === u.username || p.b === u.username) && p.kappa !== null) {
        weighted += p.kappa * p.shared;
        weight += p.shared;
      }
    }
    return {
      labelerId: u.id,
      username: u.username,
      disabled: u.disabled,
      votes: n,
      votesToday: mine.filter((r) => r.createdAt >= today).length,
      skipped: skips.find((s) => s.labelerId === u.id)?._count._all ?? 0,
      medianMsToVote: median(mine.map((r) => r.msToVote)),
      tieRate: n ? mine.filter((r) => r.choice === "TIE").length / n : null,
      bothBadRate: n ? mine.filter((r) => r.choice === "BOTH_BAD").length / n : null,
      majorityAgreement: { rate: maj.compared ? maj.agree / maj.compared : null, compared: maj.compared },
      meanCohenKappa: weight ? weighted / weight : null,
      gold: goldOf(gold.get(u.id)),
      excluded: u.excluded,
    };
  });
  return { labelers, fleissKappa: fleissKappa(ratings), cohenPairs };
}

const goldOf = (g: { correct: number; total: number } | undefined) => ({
  correct: g?.correct ?? 0,
  total: g?.total ?? 0,
  accuracy: g?.total ? g.correct / g.total : null,
});

/** Votes per UTC day for the last `days` days, zero-filled, oldest first. */
export async function votesPerDay({ db, days = 30, now = new Date() }: { db: PrismaClient; days?: number; now?: Date }) {
  const from = new Date(startOfUtcDay(now).getTime() - (days - 1) * 86_400_000);
  // Prisma stores timestamps as UTC in "timestamp without time zone" columns.
  const rows = await db.$queryRaw<{ day: string; votes: number; decisive: number }[]>`
    SELECT to_char(date_trunc('day', "createdAt"), 'YYYY-MM-DD') AS day, count(*)::int AS votes,
           count(*) FILTER (WHERE choice IN ('A', 'B'))::int AS decisive
      FROM "Vote" WHERE "createdAt" >= ${from} GROUP BY 1`;
  const byDay = new Map(rows.map((r) => [r.day, r]));
  return Array.from({ length: days }, (_, i) => {
    const day = new Date(from.getTime() + i * 86_400_000).toISOString().slice(0, 10);
    const r = byDay.get(day);
    return { day, votes: r?.votes ?? 0, decisive: r?.decisive ?? 0 };
  });
}
