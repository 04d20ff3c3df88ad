// Votes and skips. A vote is accepted once both completions are stored and only from the
// battle's labeler; Vote.battleId is unique (one vote per battle), (labelerId, promptId) is unique
// (one judgement per labeler per prompt, even across an expired lease), and a replay with the
// same idempotency key returns the stored result instead of a second vote or an error.
import { randomUUID } from "node:crypto";
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { AppError } from "../../errors.ts";
import { cancelBattleSampling } from "./generate.ts";

export type Choice = "A" | "B" | "TIE" | "BOTH_BAD";

export interface VoteResult {
  voteId: string;
  battleId: string;
  choice: Choice;
  /** true when this request did not create the vote (a retry, or another tab voted first) */
  replayed: boolean;
  kind: "ON_POLICY" | "VERSUS" | "CONTESTANT";
  reveal: { A: string; B: string };
}

interface BattleFacts {
  labelerId: string;
  status: string;
  kind: "ON_POLICY" | "VERSUS" | "CONTESTANT";
  voteId: string | null;
  voteChoice: Choice | null;
  completions: number;
  nameA: string | null;
  nameB: string | null;
}

/** Everything about a battle that explains a refused or replayed vote, in one round trip. */
async function battleFacts(db: PrismaClient, battleId: string): Promise<BattleFacts | null> {
  const rows = await db.$queryRaw<BattleFacts[]>`
    SELECT b."labelerId", b.status::text AS status, b.kind::text AS kind,
           v.id AS "voteId", v.choice::text AS "voteChoice",
           count(c.id)::int AS completions,
           max(COALESCE(pv.name, ct.name)) FILTER (WHERE c.slot = 'A') AS "nameA",
           max(COALESCE(pv.name, ct.name)) FILTER (WHERE c.slot = 'B') AS "nameB"
      FROM "Battle" b
      LEFT JOIN "Vote" v ON v."battleId" = b.id
      LEFT JOIN "Completion" c ON c."battleId" = b.id
      LEFT JOIN "PolicyVersion" pv ON pv.id = c."policyVersionId"
      LEFT JOIN "Contestant" ct ON ct.id = c."contestantId"
     WHERE b.id = ${battleId}
     GROUP BY b.id, v.id`;
  return rows[0] ?? null;
}

const result = (battleId: string, f: BattleFacts, voteId: string, choice: Choice, replayed: boolean): VoteResult => ({
  voteId,
  battleId,
  choice,
  replayed,
  kind: f.kind,
  reveal: { A: f.nameA ?? "?", B: f.nameB ?? "?" },
});

const judgedBefore = () =>
  new AppError("CONFLICT", {
    userMessage: "You already judged this prompt in another battle; each prompt counts once per labeler. Load the next one.",
  });

async function votedOnSamePrompt(db: PrismaClient, labelerId: string, battleId: string): Promise<boolean> {
  const rows = await db.$queryRaw<{ n: number }[]>`
    SELECT count(*)::int AS n FROM "Vote" v JOIN "Battle" b ON b.id = ${battleId}
     WHERE v."labelerId" = ${labelerId} AND v."promptId" = b."promptId" AND v."battleId" <> b.id`;
  return (rows[0]?.n ?? 0) > 0;
}

const keyReused = () =>
  new AppError("CONFLICT", { userMessage: "This idempotency key was already used for a different vote; send a new key." });

export interface CastVoteOptions {
  db: PrismaClient;
  labelerId: string;
  battleId: string;
  choice: Choice;
  idempotencyKey: string;
  /** from "both completions finished" to the key press, measured by the client */
  msToVote: number;
}

export async function castVote(opts: CastVoteOptions): Promise<VoteResult> {
  const { db, labelerId, battleId, idempotencyKey } = opts;
  // The usual case in one statement (votes must stay fast): the battle is this labeler's, open
  // (or its lease expired: the labeler did the work, the vote stands) and both completions are
  // stored; it moves to VOTED and the vote row appears together, or neither. A concurrent vote
  // makes the UPDATE wait for it and then match nothing. Anything else takes the slow path below,
  // which says why.
  const voteId = randomUUID();
  let rows: { voteId: string | null; kind: VoteResult["kind"]; nameA: string | null; nameB: string | null }[];
  try {
    rows = await db.$queryRaw`
      WITH moved AS (
        UPDATE "Battle" b SET status = 'VOTED', "finishedAt" = now()
         WHERE b.id = ${battleId} AND b."labelerId" = ${labelerId} AND b.status IN ('OPEN', 'EXPIRED')
           AND (SELECT count(*) FROM "Completion" c WHERE c."battleId" = b.id) >= 2
        RETURNING b.id, b.kind),
      inserted AS (
        INSERT INTO "Vote" (id, "battleId", "labelerId", choice, "msToVote", "idempotencyKey", "createdAt")
        SELECT ${voteId}, moved.id, ${labelerId}, ${opts.choice}::"VoteChoice", ${opts.msToVote}, ${idempotencyKey}, now() FROM moved
        RETURNING id)
      SELECT (SELECT id FROM inserted) AS "voteId", moved.kind::text AS kind,
             (SELECT max(COALESCE(pv.name, ct.name)) FROM "Completion" c LEFT JOIN "PolicyVersion" pv ON pv.id = c."policyVersionId"
               LEFT JOIN "Contestant" ct ON ct.id = c."contestantId"
               WHERE c."battleId" = moved.id AND c.slot = 'A') AS "nameA",
             (SELECT max(COALESCE(pv.name, ct.name)) FROM "Completion" c LEFT JOIN "PolicyVersion" pv ON pv.id = c."policyVersionId"
               LEFT JOIN "Contestant" ct ON ct.id = c."contestantId"
               WHERE c."battleId" = moved.id AND c.slot = 'B') AS "nameB"
        FROM moved`;
  } catch (err) {
    // The key is unique: it was already used, for this battle (a concurrent retry) or another.
    const prior = await db.vote.findUnique({ where: { idempotencyKey }, select: { id: true, battleId: true, choice: true } });
    if (!prior) {
      // (labeler, prompt) is unique too: this labeler judged the prompt in another battle.
      if (await votedOnSamePrompt(db, labelerId, battleId)) throw judgedBefore();
      throw err;
    }
    if (prior.battleId !== battleId) throw keyReused();
    const facts = await battleFacts(db, battleId);
    return result(battleId, facts!, prior.id, prior.choice, true);
  }
  const row = rows[0];
  if (row?.voteId)
    return {
      voteId: row.voteId,
      battleId,
      choice: opts.choice,
      replayed: false,
      kind: row.kind,
      reveal: { A: row.nameA ?? "?", B: row.nameB ?? "?" },
    };

  const facts = await battleFacts(db, battleId);
  if (!facts) throw new AppError("NOT_FOUND", { userMessage: "This battle does not exist." });
  if (facts.labelerId !== labelerId)
    throw new AppError("FORBIDDEN", { userMessage: "This battle was assigned to another labeler; you cannot vote on it." });
  // A retry (same key) or another tab of the same labeler (another key): the stored vote stands
  // and is reported back, which is not a failure.
  if (facts.voteId) return result(battleId, facts, facts.voteId, facts.voteChoice!, true);
  if (facts.status === "SKIPPED")
    throw new AppError("CONFLICT", { userMessage: "You skipped this battle; it cannot be voted on any more." });
  if (facts.completions < 2) throw new AppError("CONFLICT", { userMessage: "Both completions must finish streaming before you can vote." });
  throw new AppError("CONFLICT", { userMessage: "This battle cannot be voted on now; load the next one." });
}

/** Skipping hands the prompt back to the pool for others; the labeler never gets it again. */
export async function skipBattle({
  db,
  labelerId,
  battleId,
}: {
  db: PrismaClient;
  labelerId: string;
  battleId: string;
}): Promise<{ battleId: string; status: "SKIPPED" }> {
  const battle = await db.battle.findUnique({ where: { id: battleId }, select: { labelerId: true, status: true } });
  if (!battle) throw new AppError("NOT_FOUND", { userMessage: "This battle does not exist." });
  if (battle.labelerId !== labelerId) throw new AppError("FORBIDDEN", { userMessage: "This battle was assigned to another labeler." });
  if (battle.status === "VOTED") throw new AppError("CONFLICT", { userMessage: "You already voted on this battle." });
  if (battle.status !== "SKIPPED") {
    const updated = await db.battle.updateMany({
      where: { id: battleId, status: { in: ["OPEN", "EXPIRED"] } },
      data: { status: "SKIPPED", finishedAt: new Date() },
    });
    if (updated.count === 0) throw new AppError("CONFLICT", { userMessage: "You already voted on this battle." });
  }
  // Nobody will vote on it: its sampling (if it runs in this process) gives way to live battles.
  // In another replica it stops once its stream closes (ABANDON_GRACE_MS) or its lease ends.
  cancelBattleSampling(battleId, "you skipped this battle");
  return { battleId, status: "SKIPPED" };
}
