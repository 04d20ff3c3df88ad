// Read-only measurement queries on the product's database: the held-out prompts (never served,
// so labelers cannot have voted on them) and the arena's votes with the versions behind each
// side, for the leaderboard. Labeling never goes through here; it goes over HTTP.
import { fileURLToPath } from "node:url";
import type { PrismaClient } from "../../server/db/client.ts";
import type { ArenaVote } from "../evaluate.ts";

export async function heldOutPrompts(db: PrismaClient, limit: number): Promise<string[]> {
  const rows = await db.prompt.findMany({ where: { heldOut: true }, orderBy: { text: "asc" }, select: { text: true }, take: limit });
  return rows.map((r) => r.text);
}

export async function arenaVotes(db: PrismaClient): Promise<ArenaVote[]> {
  const rows = await db.vote.findMany({
    orderBy: { createdAt: "asc" },
    select: {
      choice: true,
      createdAt: true,
      battle: { select: { completions: { select: { slot: true, policyVersion: { select: { name: true } } } } } },
    },
  });
  const out: ArenaVote[] = [];
  for (const r of rows) {
    const a = r.battle.completions.find((c) => c.slot === "A")?.policyVersion?.name;
    const b = r.battle.completions.find((c) => c.slot === "B")?.policyVersion?.name;
    if (a && b) out.push({ versionA: a, versionB: b, choice: r.choice, at: r.createdAt });
  }
  return out;
}

/**
 * Decisive (A/B) votes cast up to `at` (the first promotion): how many votes the loop needed
 * before it changed the served policy.
 */
export async function decisiveVotesUntil(db: PrismaClient, at: Date): Promise<number> {
  return db.vote.count({ where: { choice: { in: ["A", "B"] }, createdAt: { lte: at } } });
}

/** "file:<dir>" or a file:// URL, as the directory checkpoint store writes them. */
export function checkpointDirOf(uri: string): string {
  if (uri.startsWith("file://")) return fileURLToPath(uri);
  if (uri.startsWith("file:")) return uri.slice("file:".length);
  throw new Error(`the sim can only evaluate checkpoints in a local directory store, not "${uri}"`);
}
