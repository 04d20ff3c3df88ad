// API preferences as DPO pairs, in the loop's VotePair shape (services/rounds/pairs.ts), for the
// trainer to read beside arena votes. Like arena on-policy votes: decisive (A/B) only, both
// sides sampled from the same version and conditioned on the same prompt ids, and not equal.
// `promptId` is "api:" + sha256 of the prompt ids, so a held-out split by prompt keeps every
// pair of one prompt on one side. Which rounds used which preference is the loop's to record.
import { createHash } from "node:crypto";
import type { PrismaClient } from "../../../generated/prisma/client.ts";

export interface ApiPreferencePair {
  source: "api";
  /** the ApiPreference id (in the place of VotePair.voteId) */
  voteId: string;
  promptId: string;
  promptIds: number[];
  policyVersionId: number;
  chosen: { completionId: string; tokenIds: number[] };
  rejected: { completionId: string; tokenIds: number[] };
  createdAt: Date;
}

interface Row {
  id: string;
  choice: "A" | "B";
  createdAt: Date;
  aId: string;
  aPrompt: number[];
  aTokens: number[];
  aVersion: number;
  bId: string;
  bPrompt: number[];
  bTokens: number[];
  bVersion: number;
}

const same = (x: number[], y: number[]) => x.length === y.length && x.every((t, i) => t === y[i]);

/** The newest decisive API preferences, at most `limit`, skipping the ids in `exclude` (already used). */
export async function apiPreferencePairs(opts: { db: PrismaClient; limit: number; exclude?: string[] }): Promise<ApiPreferencePair[]> {
  const rows = await opts.db.$queryRaw<Row[]>`
    SELECT p.id, p.choice::text AS choice, p."createdAt",
           a.id AS "aId", a."promptTokenIds" AS "aPrompt", a."tokenIds" AS "aTokens", a."policyVersionId" AS "aVersion",
           b.id AS "bId", b."promptTokenIds" AS "bPrompt", b."tokenIds" AS "bTokens", b."policyVersionId" AS "bVersion"
      FROM "ApiPreference" p
      JOIN "ApiCompletion" a ON a.id = p."completionAId"
      JOIN "ApiCompletion" b ON b.id = p."completionBId"
     WHERE p.choice IN ('A', 'B') AND a."policyVersionId" = b."policyVersionId"
       AND NOT (p.id = ANY(${opts.exclude ?? []}::text[]))
     ORDER BY p."createdAt" DESC, p.id
     LIMIT ${opts.limit}`;
  const pairs: ApiPreferencePair[] = [];
  for (const r of rows) {
    if (!r.aTokens.length || !r.bTokens.length || !same(r.aPrompt, r.bPrompt) || same(r.aTokens, r.bTokens)) continue;
    const a = { completionId: r.aId, tokenIds: r.aTokens };
    const b = { completionId: r.bId, tokenIds: r.bTokens };
    const [chosen, rejected] = r.choice === "A" ? [a, b] : [b, a];
    const promptId = `api:${createHash("sha256").update(Int32Array.from(r.aPrompt)).digest("hex").slice(0, 32)}`;
    pairs.push({
      source: "api",
      voteId: r.id,
      promptId,
      promptIds: r.aPrompt,
      policyVersionId: r.aVersion,
      chosen,
      rejected,
      createdAt: r.createdAt,
    });
  }
  return pairs;
}
