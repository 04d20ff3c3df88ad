// Votes and skips. A vote is accepted once both completions are stored and only from the
// battle's labeler; Vote.battleId is unique (one vote per battle) and a replay with the same
// idempotency key returns the stored result instead of a second vote or an error.
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { AppError } from "../../errors.ts";

export type Choice = "A" | "B" | "TIE" | "BOTH_BAD";

export interface VoteResult {
  voteId: string;
  battleId: string;
  choice: Choice;
  /** true when this request did not create the vote (a retry, or another tab voted first) */
  replayed: boolean;
  kind: "ON_POLICY" | "VERSUS";
  reveal: { A: string; B: string };
}

async function resultFor(db: PrismaClient, voteId: string, replayed: boolean): Promise<VoteResult> {
  const v = await db.vote.findUniqueOrThrow({
    where: { id: voteId },
    select: {
      id: true,
      choice: true,
      battle: { select: { id: true, kind: true, completions: { select: { slot: true, policyVersion: { select: { name: true } } } } } },
    },
  });
  const name = (slot: "A" | "B") => v.battle.completions.find((c) => c.slot === slot)?.policyVersion.name ?? "?";
  return { voteId: v.id, battleId: v.battle.id, choice: v.choice, replayed, kind: v.battle.kind, reveal: { A: name("A"), B: name("B") } };
}

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
  const { db, labelerId, battleId } = opts;
  const prior = await db.vote.findUnique({ where: { idempotencyKey: opts.idempotencyKey }, select: { id: true, battleId: true, labelerId: true } });
  if (prior) {
    if (prior.battleId !== battleId || prior.labelerId !== labelerId) {
      throw new AppError("CONFLICT", { userMessage: "This idempotency key was already used for a different vote; send a new key." });
    }
    return resultFor(db, prior.id, true);
  }

  const battle = await db.battle.findUnique({
    where: { id: battleId },
    select: { labelerId: true, status: true, vote: { select: { id: true } }, _count: { select: { completions: true } } },
  });
  if (!battle) throw new AppError("NOT_FOUND", { userMessage: "This battle does not exist." });
  if (battle.labelerId !== labelerId) throw new AppError("FORBIDDEN", { userMessage: "This battle was assigned to another labeler; you cannot vote on it." });
  // Another tab of the same labeler voted first: that vote stands, and this is not a failure.
  if (battle.vote) return resultFor(db, battle.vote.id, true);
  if (battle.status === "SKIPPED") throw new AppError("CONFLICT", { userMessage: "You skipped this battle; it cannot be voted on any more." });
  if (battle._count.completions < 2) {
    throw new AppError("CONFLICT", { userMessage: "Both completions must finish streaming before you can vote." });
  }

  try {
    // An expired lease does not void the vote: the labeler did the work, and the vote is still valid data.
    const vote = await db.$transaction(async (tx) => {
      const v = await tx.vote.create({
        data: { battleId, labelerId, choice: opts.choice, msToVote: opts.msToVote, idempotencyKey: opts.idempotencyKey },
        select: { id: true },
      });
      const moved = await tx.battle.updateMany({ where: { id: battleId, status: { in: ["OPEN", "EXPIRED"] } }, data: { status: "VOTED", finishedAt: new Date() } });
      if (moved.count === 0) throw new AppError("CONFLICT", { userMessage: "You skipped this battle; it cannot be voted on any more." });
      return v;
    });
    return resultFor(db, vote.id, false);
  } catch (err) {
    if ((err as { code?: string }).code !== "P2002") throw err;
    // A concurrent request (same key or same battle) won the race; report what it stored.
    const stored = await db.vote.findFirst({ where: { OR: [{ battleId }, { idempotencyKey: opts.idempotencyKey }] }, select: { id: true, battleId: true } });
    if (!stored || stored.battleId !== battleId) throw new AppError("CONFLICT", { userMessage: "This idempotency key was already used for a different vote; send a new key." });
    return resultFor(db, stored.id, true);
  }
}

/** Skipping hands the prompt back to the pool for others; the labeler never gets it again. */
export async function skipBattle({ db, labelerId, battleId }: { db: PrismaClient; labelerId: string; battleId: string }): Promise<{ battleId: string; status: "SKIPPED" }> {
  const battle = await db.battle.findUnique({ where: { id: battleId }, select: { labelerId: true, status: true } });
  if (!battle) throw new AppError("NOT_FOUND", { userMessage: "This battle does not exist." });
  if (battle.labelerId !== labelerId) throw new AppError("FORBIDDEN", { userMessage: "This battle was assigned to another labeler." });
  if (battle.status === "VOTED") throw new AppError("CONFLICT", { userMessage: "You already voted on this battle." });
  if (battle.status !== "SKIPPED") {
    const updated = await db.battle.updateMany({ where: { id: battleId, status: { in: ["OPEN", "EXPIRED"] } }, data: { status: "SKIPPED", finishedAt: new Date() } });
    if (updated.count === 0) throw new AppError("CONFLICT", { userMessage: "You already voted on this battle." });
  }
  return { battleId, status: "SKIPPED" };
}
