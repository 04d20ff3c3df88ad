// Turning votes into DPO pairs. A decisive vote (A or B) gives one (x, y_w, y_l) triple: the
// exact token ids the completions were sampled from and produced, so training scores the very
// sequences labelers saw. Ties and both-bad votes count for the ratings only.
//
// Which votes a round may use:
// - Held-out: votes on prompts whose normalized text is on the HELDOUT side of the persistent
//   split (PromptSplit). They are evaluated by every round and never trained on.
// - Trainable: every other decisive vote not yet ABSORBED into the serving lineage. A vote is
//   absorbed once a round that trained on it is running, or succeeded and produced a version
//   the serving version descends from. So votes of rejected, failed and cancelled rounds, and of
//   rounds whose version was later rolled back, return to the pool.
// - Kinds: on-policy battles (two samples of the serving version) and, when `versusPairs` is on,
//   serving-vs-earlier battles as off-policy pairs. Only versions of the base's lineage (same
//   root, hence the same tokenizer) give pairs.
// - Never: votes on gold battles (they check the labeler), and votes of labelers an admin
//   excluded (labeler quality; clearing the flag brings their votes back).
import type { PrismaClient } from "../../../generated/prisma/client.ts";

export interface PairSide {
  completionId: string;
  tokenIds: number[];
}

export interface VotePair {
  voteId: string;
  promptId: string;
  /** normalized prompt text key: the cluster for standard errors and the split's unit */
  promptKey: string;
  /** OFFLINE: an imported dataset's pair (offline-pairs.ts) */
  kind: "ON_POLICY" | "VERSUS" | "OFFLINE";
  /** where the pair comes from; arena votes when absent (offline-pairs.ts adds the others) */
  source?: "arena" | "api" | "imported";
  /** trained on by an earlier round that did not end in the serving lineage */
  returned: boolean;
  promptIds: number[];
  chosen: PairSide;
  rejected: PairSide;
  /** how much the pair counts in training (labeler quality, set by prepare.ts); absent = 1 */
  weight?: number;
}

interface Row {
  voteId: string;
  choice: "A" | "B";
  kind: "ON_POLICY" | "VERSUS";
  promptId: string;
  promptKey: string;
  returned: boolean;
  aId: string;
  aPrompt: number[];
  aTokens: number[];
  bId: string;
  bPrompt: number[];
  bTokens: number[];
}

function toPair(r: Row): VotePair | null {
  // Both sides must condition on the same prompt ids and differ, or the pair carries no signal.
  if (r.aTokens.length === 0 || r.bTokens.length === 0) return null;
  if (r.aPrompt.length === 0 || r.aPrompt.length !== r.bPrompt.length || r.aPrompt.some((t, i) => t !== r.bPrompt[i])) return null;
  if (r.aTokens.length === r.bTokens.length && r.aTokens.every((t, i) => t === r.bTokens[i])) return null;
  const a = { completionId: r.aId, tokenIds: r.aTokens };
  const b = { completionId: r.bId, tokenIds: r.bTokens };
  const common = {
    voteId: r.voteId,
    promptId: r.promptId,
    promptKey: r.promptKey,
    kind: r.kind,
    returned: r.returned,
    promptIds: r.aPrompt,
  };
  return r.choice === "A" ? { ...common, chosen: a, rejected: b } : { ...common, chosen: b, rejected: a };
}

/**
 * Puts every prompt text not yet on a side on one, by a salted hash against `fraction`. The keys
 * are stored and indexed (Prompt.textKey), so when nothing is new this is an index anti-join that
 * inserts nothing; it runs before pairs are counted or read so a new prompt's votes are never
 * left out for want of a side.
 */
export async function assignSplits(db: PrismaClient, fraction: number): Promise<number> {
  return db.$executeRaw`
    INSERT INTO "PromptSplit" (key, split)
    SELECT k, (CASE WHEN ('x' || substr(md5('dpo-arena-split:' || k), 1, 8))::bit(32)::bigint < ${fraction} * 4294967296.0
                    THEN 'HELDOUT' ELSE 'TRAIN' END)::"PairSplit"
      FROM (SELECT DISTINCT p."textKey" AS k FROM "Prompt" p
             WHERE NOT EXISTS (SELECT 1 FROM "PromptSplit" s WHERE s.key = p."textKey")) keys
    ON CONFLICT (key) DO NOTHING`;
}

/**
 * SQL: the serving version's lineage (`lineage`), each version's root (`roots`) and the serving
 * version's root (`serving_root`), as the opening of a WITH RECURSIVE clause. Shared with the
 * offline pair sources (offline-pairs.ts), which follow the same lineage rules.
 */
export const SERVING_LINEAGE_CTES = `
  WITH RECURSIVE lineage(id) AS (
    SELECT id FROM "PolicyVersion" WHERE status = 'SERVING'
    UNION SELECT pv."parentId" FROM "PolicyVersion" pv JOIN lineage l ON pv.id = l.id WHERE pv."parentId" IS NOT NULL
  ), roots(id, root) AS (
    SELECT id, id FROM "PolicyVersion" WHERE "parentId" IS NULL
    UNION ALL SELECT pv.id, r.root FROM "PolicyVersion" pv JOIN roots r ON pv."parentId" = r.id
  ), serving_root AS (
    SELECT r.root FROM roots r JOIN "PolicyVersion" pv ON pv.id = r.id AND pv.status = 'SERVING'
  )`;

/** SQL: whether the pair whose id is `col` is absorbed into the serving lineage (needs `lineage`). */
export const absorbedSql = (col: string) => `EXISTS (SELECT 1 FROM "RoundVote" rv JOIN "TrainingRound" r ON r.id = rv."roundId"
   WHERE rv."voteId" = ${col} AND rv.split = 'TRAIN'
     AND (r.status = 'RUNNING' OR (r.status = 'SUCCEEDED' AND r."resultVersionId" IN (SELECT id FROM lineage))))`;
/** SQL: whether any round ever trained on the pair whose id is `col`. */
export const everTrainedSql = (col: string) => `EXISTS (SELECT 1 FROM "RoundVote" rv WHERE rv."voteId" = ${col} AND rv.split = 'TRAIN')`;

// For every vote of the serving lineage: its split, and whether it is absorbed.
const CTES = `${SERVING_LINEAGE_CTES.trimEnd()}, candidates AS (
    SELECT v.id AS "voteId", v."battleId", v.choice::text AS choice, b.kind::text AS kind, b."promptId", v."createdAt",
           s.split::text AS split, p."textKey" AS "promptKey",
           ${absorbedSql("v.id")} AS absorbed,
           ${everTrainedSql("v.id")} AS "everTrained"
      FROM "Vote" v
      JOIN "Battle" b ON b.id = v."battleId"
      JOIN "Prompt" p ON p.id = b."promptId"
      JOIN "PromptSplit" s ON s.key = p."textKey"
      JOIN "User" u ON u.id = v."labelerId"
     WHERE v.choice IN ('A', 'B') AND b."goldPairId" IS NULL AND NOT u.excluded
       AND (b.kind = 'ON_POLICY' OR ($1::boolean AND b.kind = 'VERSUS'))
       AND (SELECT root FROM roots WHERE id = b."policyAId") = (SELECT root FROM serving_root)
       AND (SELECT root FROM roots WHERE id = b."policyBId") = (SELECT root FROM serving_root)
  )`;

async function queryPairs(db: PrismaClient, where: string, versus: boolean, limit: number): Promise<VotePair[]> {
  const rows = await db.$queryRawUnsafe<Row[]>(
    `${CTES}
     SELECT c."voteId", c.choice, c.kind, c."promptId", c."promptKey", (c."everTrained" AND NOT c.absorbed) AS returned,
            ca.id AS "aId", ca."promptTokenIds" AS "aPrompt", ca."tokenIds" AS "aTokens",
            cb.id AS "bId", cb."promptTokenIds" AS "bPrompt", cb."tokenIds" AS "bTokens"
       FROM candidates c
       JOIN "Completion" ca ON ca."battleId" = c."battleId" AND ca.slot = 'A'
       JOIN "Completion" cb ON cb."battleId" = c."battleId" AND cb.slot = 'B'
      WHERE ${where}
      ORDER BY c."createdAt" DESC, c."voteId"
      LIMIT $2`,
    versus,
    limit,
  );
  return rows.map(toPair).filter((p): p is VotePair => p !== null);
}

/**
 * The newest trainable pairs, at most `limit`. Newest first: when labelers outpace the rounds, a
 * backlog builds, and its oldest votes were cast on completions of older versions; an online
 * loop should learn from what the current policy produces.
 */
export function trainablePairs(db: PrismaClient, opts: { limit: number; versus: boolean }): Promise<VotePair[]> {
  return queryPairs(db, `c.split = 'TRAIN' AND NOT c.absorbed`, opts.versus, opts.limit);
}

/** The newest held-out pairs (the persistent held-out set), at most `limit`. */
export function heldoutPairs(db: PrismaClient, opts: { limit: number; versus: boolean }): Promise<VotePair[]> {
  return queryPairs(db, `c.split = 'HELDOUT'`, opts.versus, opts.limit);
}

/** Pairs already absorbed into the serving lineage (most recent first), for replay. */
export function replayPairs(db: PrismaClient, opts: { limit: number; versus: boolean }): Promise<VotePair[]> {
  return opts.limit > 0 ? queryPairs(db, `c.split = 'TRAIN' AND c.absorbed`, opts.versus, opts.limit) : Promise.resolve([]);
}

export interface PairCounts {
  /** trainable pairs: never trained on, and returned from rounds outside the serving lineage */
  fresh: number;
  returned: number;
  /** how many of the trainable pairs come from serving-vs-earlier battles */
  versus: number;
  heldout: number;
}

/** What the schedule and the rounds page compare with the settings. */
export async function countPairs(db: PrismaClient, opts: { versus: boolean; heldoutFraction: number }): Promise<PairCounts> {
  await assignSplits(db, opts.heldoutFraction);
  const rows = await db.$queryRawUnsafe<{ fresh: bigint; returned: bigint; versus: bigint; heldout: bigint }[]>(
    `${CTES}
     SELECT count(*) FILTER (WHERE split = 'TRAIN' AND NOT absorbed AND NOT "everTrained") AS fresh,
            count(*) FILTER (WHERE split = 'TRAIN' AND NOT absorbed AND "everTrained") AS returned,
            count(*) FILTER (WHERE split = 'TRAIN' AND NOT absorbed AND kind = 'VERSUS') AS versus,
            count(*) FILTER (WHERE split = 'HELDOUT') AS heldout
       FROM candidates`,
    opts.versus,
  );
  const r = rows[0];
  return {
    fresh: Number(r?.fresh ?? 0),
    returned: Number(r?.returned ?? 0),
    versus: Number(r?.versus ?? 0),
    heldout: Number(r?.heldout ?? 0),
  };
}
