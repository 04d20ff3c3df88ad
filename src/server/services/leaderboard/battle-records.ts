// Votes as rating battles. Battle.policyAId / policyBId are the versions in the slots the
// labeler saw as A and B, so a vote for A is a win for model_a: no un-swapping is needed here.
// In a CONTESTANT battle the contestant's slot has no version: the entry there is the
// contestant's name (services/contestants: never a version name), rated like any version.
// Votes on gold battles (they check labelers) and votes of excluded labelers are not rating
// battles (COUNTED_VOTE below).
import { Prisma, type PrismaClient } from "../../../generated/prisma/client.ts";
import type { BattleRecord, Outcome } from "../../../rating/index.ts";

/** The rating battles among votes v joined to their battles b (a SQL condition). */
const COUNTED_VOTE = Prisma.sql`b."goldPairId" IS NULL AND NOT EXISTS (SELECT 1 FROM "User" u WHERE u.id = v."labelerId" AND u.excluded)`;

export type VoteChoiceName = "A" | "B" | "TIE" | "BOTH_BAD";

/** FastChat's clean_battle `winner` for each vote choice. */
export const WINNER_OF_CHOICE: Record<VoteChoiceName, Outcome> = {
  A: "model_a",
  B: "model_b",
  TIE: "tie",
  BOTH_BAD: "tie (bothbad)",
};

export interface VotedBattle extends BattleRecord {
  battleId: string;
  labelerId: string;
  kind: "ON_POLICY" | "VERSUS" | "CONTESTANT";
  /** Vote time in whole milliseconds since the epoch (UTC); with `voteId` the reading order. */
  votedAtMs: number;
  voteId: string;
  tstamp: number;
}

/** Where a batched read stopped: the last row's vote time and id. */
export interface VoteCursor {
  votedAtMs: number;
  voteId: string;
}

interface Row {
  vote_id: string;
  voted_at_ms: number;
  choice: VoteChoiceName;
  battle_id: string;
  labeler_id: string;
  kind: "ON_POLICY" | "VERSUS" | "CONTESTANT";
  model_a: string;
  model_b: string;
}

/**
 * One batch of voted battles in vote order. The cursor compares whole milliseconds (the
 * column's precision) so a page boundary never skips or repeats a row.
 */
export async function readVotedBattles({
  db,
  after,
  limit,
}: {
  db: PrismaClient;
  after?: VoteCursor;
  limit: number;
}): Promise<VotedBattle[]> {
  const afterMs = after?.votedAtMs ?? -1;
  const afterId = after?.voteId ?? "";
  const rows = await db.$queryRaw<Row[]>`
    SELECT v.id AS vote_id,
           (extract(epoch FROM v."createdAt") * 1000)::float8 AS voted_at_ms,
           v.choice::text AS choice,
           b.id AS battle_id,
           v."labelerId" AS labeler_id,
           b.kind::text AS kind,
           COALESCE(pa.name, ct.name) AS model_a,
           COALESCE(pb.name, ct.name) AS model_b
    FROM "Vote" v
    JOIN "Battle" b ON b.id = v."battleId"
    LEFT JOIN "PolicyVersion" pa ON pa.id = b."policyAId"
    LEFT JOIN "PolicyVersion" pb ON pb.id = b."policyBId"
    LEFT JOIN "Contestant" ct ON ct.id = b."contestantId"
    WHERE (v."createdAt", v.id) > ('epoch'::timestamp + ${afterMs}::float8 * interval '1 millisecond', ${afterId})
      AND ${COUNTED_VOTE}
    ORDER BY v."createdAt", v.id
    LIMIT ${limit}`;
  return rows.map((r) => {
    const winner = WINNER_OF_CHOICE[r.choice];
    if (!winner) throw new Error(`vote ${r.vote_id} has choice ${JSON.stringify(r.choice)}, which is not one of A, B, TIE, BOTH_BAD`);
    return {
      modelA: r.model_a,
      modelB: r.model_b,
      winner,
      tstamp: r.voted_at_ms / 1000,
      battleId: r.battle_id,
      labelerId: r.labeler_id,
      kind: r.kind,
      votedAtMs: r.voted_at_ms,
      voteId: r.vote_id,
    };
  });
}

/** Every voted battle, read in batches so one huge result set never sits in the driver. */
export async function loadVotedBattles({ db, batchSize = 20_000 }: { db: PrismaClient; batchSize?: number }): Promise<VotedBattle[]> {
  const out: VotedBattle[] = [];
  let after: VoteCursor | undefined;
  for (;;) {
    const batch = await readVotedBattles({ db, after, limit: batchSize });
    for (const b of batch) out.push(b);
    if (batch.length < batchSize) return out;
    const last = batch[batch.length - 1]!;
    after = { votedAtMs: last.votedAtMs, voteId: last.voteId };
  }
}

/**
 * Only what the ratings need, as four arrays in one row: converting 50k row objects costs
 * the driver seconds, four arrays a few milliseconds. Version ids map to names afterwards.
 */
export async function loadRatingBattles({
  db,
}: {
  db: PrismaClient;
}): Promise<{ battles: BattleRecord[]; voteIds: string[]; mark: VoteMark }> {
  // The mark comes from the same statement as the battles, so they always agree. A contestant's
  // slot holds minus its id (version ids are positive), so one array per slot stays.
  const [row] = await db.$queryRaw<
    {
      a: number[] | null;
      b: number[] | null;
      c: number[] | null;
      ms: number[] | null;
      ids: string[] | null;
      votes: number;
      last_ms: number | null;
      excluded: string;
    }[]
  >`
    SELECT array_agg(COALESCE(b."policyAId", -b."contestantId") ORDER BY v."createdAt", v.id) FILTER (WHERE ${COUNTED_VOTE}) AS a,
           array_agg(COALESCE(b."policyBId", -b."contestantId") ORDER BY v."createdAt", v.id) FILTER (WHERE ${COUNTED_VOTE}) AS b,
           array_agg(CASE v.choice WHEN 'A' THEN 0 WHEN 'B' THEN 1 WHEN 'TIE' THEN 2 ELSE 3 END ORDER BY v."createdAt", v.id)
             FILTER (WHERE ${COUNTED_VOTE}) AS c,
           array_agg((extract(epoch FROM v."createdAt") * 1000)::float8 ORDER BY v."createdAt", v.id) FILTER (WHERE ${COUNTED_VOTE}) AS ms,
           array_agg(v.id ORDER BY v."createdAt", v.id) FILTER (WHERE ${COUNTED_VOTE}) AS ids,
           count(*)::int AS votes, (extract(epoch FROM max(v."createdAt")) * 1000)::float8 AS last_ms, ${EXCLUDED_KEY} AS excluded
    FROM "Vote" v JOIN "Battle" b ON b.id = v."battleId"`;
  const [versions, contestants] = await Promise.all([
    db.policyVersion.findMany({ select: { id: true, name: true } }),
    db.contestant.findMany({ select: { id: true, name: true } }),
  ]);
  const nameOf = new Map([...versions.map((v) => [v.id, v.name] as const), ...contestants.map((c) => [-c.id, c.name] as const)]);
  const outcomes = [WINNER_OF_CHOICE.A, WINNER_OF_CHOICE.B, WINNER_OF_CHOICE.TIE, WINNER_OF_CHOICE.BOTH_BAD];
  const a = row?.a ?? [],
    b = row?.b ?? [],
    c = row?.c ?? [],
    ms = row?.ms ?? [];
  const battles: BattleRecord[] = new Array(a.length);
  for (let i = 0; i < a.length; i++) {
    battles[i] = { modelA: nameOf.get(a[i]!)!, modelB: nameOf.get(b[i]!)!, winner: outcomes[c[i]!]!, tstamp: ms[i]! / 1000 };
  }
  return {
    battles,
    voteIds: row?.ids ?? [],
    mark: { votes: row?.votes ?? 0, lastVoteAtMs: row?.last_ms ?? null, excluded: row?.excluded ?? "" },
  };
}

/**
 * What the cache was computed at: votes are append-only, so count + newest time moves on every
 * new vote (gold votes included: counting them costs nothing and only triggers a recomputation);
 * `excluded` names the excluded labelers, so excluding or restoring one recomputes the ratings.
 */
export interface VoteMark {
  votes: number;
  lastVoteAtMs: number | null;
  /**
   * md5 of the excluded labelers' ids in order ("" when none), then ":" and the leaderboard's
   * labeler-quality setting when one is stored (absent in snapshots of older code)
   */
  excluded?: string;
}

const EXCLUDED_KEY = Prisma.sql`((SELECT COALESCE(md5(string_agg(id, ',' ORDER BY id)), '') FROM "User" WHERE excluded)
  || COALESCE((SELECT ':' || value::text FROM "Setting" WHERE key = 'leaderboard.labelerQuality'), ''))`;

export async function currentVoteMark({ db }: { db: PrismaClient }): Promise<VoteMark> {
  const [row] = await db.$queryRaw<{ votes: number; last_ms: number | null; excluded: string }[]>`
    SELECT count(*)::int AS votes, (extract(epoch FROM max("createdAt")) * 1000)::float8 AS last_ms, ${EXCLUDED_KEY} AS excluded FROM "Vote"`;
  return { votes: row?.votes ?? 0, lastVoteAtMs: row?.last_ms ?? null, excluded: row?.excluded ?? "" };
}

export function sameMark(a: VoteMark, b: VoteMark): boolean {
  return a.votes === b.votes && a.lastVoteAtMs === b.lastVoteAtMs && (a.excluded ?? null) === (b.excluded ?? null);
}
