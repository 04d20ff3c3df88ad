// Voted battles written straight into a test database (no sampler): versions, one prompt per
// battle, both completions, and the vote at a chosen time.
import type { PrismaClient } from "../../src/generated/prisma/client.ts";

export type Choice = "A" | "B" | "TIE" | "BOTH_BAD";

export async function addVersions(db: PrismaClient, names: string[]): Promise<Record<string, number>> {
  const ids: Record<string, number> = {};
  for (const name of names) {
    const v = await db.policyVersion.create({
      data: {
        name,
        checkpointUri: `file:/tmp/${name}`,
        checkpointSha256: "0".repeat(64),
        status: name === names[names.length - 1] ? "SERVING" : "RETIRED",
      },
    });
    ids[name] = v.id;
  }
  return ids;
}

let n = 0;

export interface SeededVote {
  battleId: string;
  voteId: string;
  textA: string;
  textB: string;
  prompt: string;
}

/** A battle shown as A = `a`, B = `b`, voted `choice` by `labelerId` at `at`. */
export async function addVotedBattle(
  db: PrismaClient,
  options: { versions: Record<string, number>; a: string; b: string; choice: Choice; labelerId: string; at?: Date },
): Promise<SeededVote> {
  n += 1;
  const at = options.at ?? new Date();
  const kind = options.a === options.b ? "ON_POLICY" : "VERSUS";
  const prompt = await db.prompt.create({ data: { text: `prompt ${n}: "quoted"\nsecond line`, source: "test" } });
  const battle = await db.battle.create({
    data: {
      promptId: prompt.id,
      labelerId: options.labelerId,
      kind,
      status: "VOTED",
      policyAId: options.versions[options.a]!,
      policyBId: options.versions[options.b]!,
      leaseExpiresAt: new Date(at.getTime() + 60_000),
      createdAt: at,
      finishedAt: at,
    },
  });
  const textA = `completion A of battle ${n} by ${options.a}`;
  const textB = `completion B of battle ${n} by ${options.b}`;
  const common = {
    battleId: battle.id,
    promptId: prompt.id,
    promptTokenIds: [1],
    tokenIds: [2],
    temperature: 1,
    topP: 1,
    topK: 0,
    maxNewTokens: 8,
    seed: n,
    finishReason: "length",
    latencyMs: 1,
  };
  await db.completion.create({ data: { ...common, slot: "A", policyVersionId: options.versions[options.a]!, text: textA } });
  await db.completion.create({ data: { ...common, slot: "B", policyVersionId: options.versions[options.b]!, text: textB } });
  const vote = await db.vote.create({
    data: {
      battleId: battle.id,
      labelerId: options.labelerId,
      choice: options.choice,
      msToVote: 1000,
      idempotencyKey: `k-${battle.id}`,
      createdAt: at,
    },
  });
  return { battleId: battle.id, voteId: vote.id, textA, textB, prompt: prompt.text };
}
