// Turning votes into DPO pairs. A decisive vote (A or B) on an on-policy battle gives one
// (x, y_w, y_l) triple: the exact token ids the completions were sampled from and produced,
// so training scores the very sequences labelers saw. Ties and both-bad votes count for the
// ratings only. A vote is "used" once a round that trained on it is RUNNING or finished with a
// verdict (SUCCEEDED / REJECTED); FAILED and CANCELLED rounds give their votes back.
import { createHash } from "node:crypto";
import type { PrismaClient } from "../../../generated/prisma/client.ts";

export interface PairSide {
  completionId: string;
  tokenIds: number[];
}

export interface VotePair {
  voteId: string;
  promptId: string;
  promptIds: number[];
  chosen: PairSide;
  rejected: PairSide;
}

interface Row {
  voteId: string;
  choice: "A" | "B";
  promptId: string;
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
  return r.choice === "A"
    ? { voteId: r.voteId, promptId: r.promptId, promptIds: r.aPrompt, chosen: a, rejected: b }
    : { voteId: r.voteId, promptId: r.promptId, promptIds: r.aPrompt, chosen: b, rejected: a };
}

async function queryPairs(db: PrismaClient, used: boolean, limit: number): Promise<VotePair[]> {
  const rows = await db.$queryRawUnsafe<Row[]>(
    `SELECT v.id AS "voteId", v.choice::text AS choice, b."promptId",
            ca.id AS "aId", ca."promptTokenIds" AS "aPrompt", ca."tokenIds" AS "aTokens",
            cb.id AS "bId", cb."promptTokenIds" AS "bPrompt", cb."tokenIds" AS "bTokens"
       FROM "Vote" v
       JOIN "Battle" b ON b.id = v."battleId"
       JOIN "Completion" ca ON ca."battleId" = b.id AND ca.slot = 'A'
       JOIN "Completion" cb ON cb."battleId" = b.id AND cb.slot = 'B'
      WHERE v.choice IN ('A', 'B') AND b.kind = 'ON_POLICY'
        AND ${used ? "" : "NOT"} EXISTS (
              SELECT 1 FROM "RoundVote" rv JOIN "TrainingRound" r ON r.id = rv."roundId"
               WHERE rv."voteId" = v.id AND r.status IN ${used ? "('SUCCEEDED')" : "('RUNNING', 'SUCCEEDED', 'REJECTED')"})
      ORDER BY v."createdAt" DESC, v.id
      LIMIT $1`,
    limit,
  );
  return rows.map(toPair).filter((p): p is VotePair => p !== null);
}

/**
 * The newest unused decisive pairs, at most `limit`. Newest first: when labelers outpace the
 * rounds, a backlog builds, and its oldest votes were cast on completions of older versions;
 * an online loop should learn from what the current policy produces.
 */
export function unusedPairs(db: PrismaClient, limit: number): Promise<VotePair[]> {
  return queryPairs(db, false, limit);
}

/** Pairs earlier successful rounds trained on (most recent first), for replay. */
export function replayPairs(db: PrismaClient, limit: number): Promise<VotePair[]> {
  return limit > 0 ? queryPairs(db, true, limit) : Promise.resolve([]);
}

/** Decisive on-policy votes not yet used: what the schedule compares with its threshold. */
export async function countUnusedDecisiveVotes(db: PrismaClient): Promise<number> {
  const rows = await db.$queryRaw<{ n: bigint }[]>`
    SELECT count(*) AS n FROM "Vote" v JOIN "Battle" b ON b.id = v."battleId"
     WHERE v.choice IN ('A', 'B') AND b.kind = 'ON_POLICY'
       AND NOT EXISTS (SELECT 1 FROM "RoundVote" rv JOIN "TrainingRound" r ON r.id = rv."roundId"
                        WHERE rv."voteId" = v.id AND r.status IN ('RUNNING', 'SUCCEEDED', 'REJECTED'))`;
  return Number(rows[0]?.n ?? 0);
}

/**
 * Held-out split by prompt, not by pair: pairs of one prompt all land on the same side, so the
 * evaluation never scores a prompt the policy was trained on. Deterministic in (seed, promptId).
 */
export function splitHeldout<T extends { promptId: string }>(pairs: T[], fraction: number, seed: number): { train: T[]; heldout: T[] } {
  if (fraction <= 0) return { train: pairs, heldout: [] };
  const bucket = (id: string) => createHash("sha256").update(`${seed}:${id}`).digest().readUInt32BE(0) / 2 ** 32;
  const train: T[] = [];
  const heldout: T[] = [];
  for (const p of pairs) (bucket(p.promptId) < fraction ? heldout : train).push(p);
  // Few prompts can put everything on one side; keep at least one pair on each when possible.
  if (heldout.length === 0 && train.length > 1) heldout.push(train.pop()!);
  if (train.length === 0 && heldout.length > 1) train.push(heldout.pop()!);
  return { train, heldout };
}
