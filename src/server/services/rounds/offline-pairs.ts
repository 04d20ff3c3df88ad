// Pairs from outside the arena, in the loop's VotePair shape so a round merges them into its
// list (prepare.ts): imported preference datasets (the `importedPairs` setting) and API
// preferences (`apiPairs`). They follow the votes' rules where those apply:
// - only the serving lineage's tokenizer: an import is tokenized for one lineage root, an API
//   completion was sampled by one version;
// - never a prompt of the held-out side of the persistent split (by normalized text), so
//   nothing trained on leaks into the held-out evaluation;
// - trainable until absorbed into the serving lineage (RoundVote rows, written for them like for
//   votes), so pairs of rejected, failed or cancelled rounds return to the pool.
// They are training pairs only: the held-out set stays arena votes.
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { apiPreferencePairs } from "../inference/pairs.ts";
import { absorbedSql, everTrainedSql, SERVING_LINEAGE_CTES, type VotePair } from "./pairs.ts";

const heldoutText = (expr: string) =>
  `EXISTS (SELECT 1 FROM "PromptSplit" s WHERE s.key = prompt_text_key(${expr}) AND s.split = 'HELDOUT')`;

interface ImportedRow {
  id: string;
  importId: string;
  promptKey: string;
  returned: boolean;
  promptTokenIds: number[];
  chosenTokenIds: number[];
  rejectedTokenIds: number[];
}

/** The newest trainable imported pairs of the serving lineage, at most `limit`. */
export async function importedTrainPairs(db: PrismaClient, opts: { limit: number }): Promise<VotePair[]> {
  if (opts.limit <= 0) return [];
  const rows = await db.$queryRawUnsafe<ImportedRow[]>(
    `${SERVING_LINEAGE_CTES}
     SELECT ip.id, ip."importId", prompt_text_key(ip.prompt) AS "promptKey", ${everTrainedSql("ip.id")} AS returned,
            ip."promptTokenIds", ip."chosenTokenIds", ip."rejectedTokenIds"
       FROM "ImportedPair" ip JOIN "PreferenceImport" pi ON pi.id = ip."importId"
      WHERE pi."rootVersionId" = (SELECT root FROM serving_root)
        AND NOT ${heldoutText("ip.prompt")}
        AND NOT ${absorbedSql("ip.id")}
      ORDER BY ip."createdAt" DESC, ip.id
      LIMIT $1`,
    opts.limit,
  );
  return rows.map((r) => ({
    voteId: r.id,
    promptId: `import:${r.importId}`,
    promptKey: r.promptKey,
    kind: "OFFLINE",
    source: "imported",
    returned: r.returned,
    promptIds: r.promptTokenIds,
    chosen: { completionId: `${r.id}.chosen`, tokenIds: r.chosenTokenIds },
    rejected: { completionId: `${r.id}.rejected`, tokenIds: r.rejectedTokenIds },
  }));
}

/** The newest trainable decisive API preferences of the serving lineage, at most `limit`. */
export async function apiTrainPairs(db: PrismaClient, opts: { limit: number }): Promise<VotePair[]> {
  if (opts.limit <= 0) return [];
  // Preferences a round may not use (absorbed, held-out prompt, another lineage), and those
  // returned from rounds outside the serving lineage; apiPreferencePairs reads the rest.
  const flags = await db.$queryRawUnsafe<{ id: string; excluded: boolean; returned: boolean; promptKey: string }[]>(
    `${SERVING_LINEAGE_CTES}
     SELECT p.id, prompt_text_key(a."promptText") AS "promptKey",
            (${absorbedSql("p.id")} OR ${heldoutText(`a."promptText"`)}
              OR (SELECT root FROM roots WHERE id = a."policyVersionId") IS DISTINCT FROM (SELECT root FROM serving_root)) AS excluded,
            (${everTrainedSql("p.id")} AND NOT ${absorbedSql("p.id")}) AS returned
       FROM "ApiPreference" p JOIN "ApiCompletion" a ON a.id = p."completionAId"
      WHERE p.choice IN ('A', 'B')`,
  );
  const exclude = flags.filter((f) => f.excluded).map((f) => f.id);
  const byId = new Map(flags.map((f) => [f.id, f]));
  const pairs = await apiPreferencePairs({ db, limit: opts.limit, exclude });
  return pairs.map((p) => ({
    voteId: p.voteId,
    promptId: p.promptId,
    promptKey: byId.get(p.voteId)?.promptKey ?? p.promptId,
    kind: "ON_POLICY",
    source: "api",
    returned: byId.get(p.voteId)?.returned ?? false,
    promptIds: p.promptIds,
    chosen: p.chosen,
    rejected: p.rejected,
  }));
}

export interface OfflinePairCounts {
  /** trainable imported pairs of the serving lineage */
  imported: number;
  /** trainable decisive API preferences of the serving lineage */
  api: number;
}

/** What the rounds page shows beside the vote counts (whether or not the settings use them). */
export async function countOfflinePairs(db: PrismaClient): Promise<OfflinePairCounts> {
  const rows = await db.$queryRawUnsafe<{ imported: bigint; api: bigint }[]>(
    `${SERVING_LINEAGE_CTES}
     SELECT (SELECT count(*) FROM "ImportedPair" ip JOIN "PreferenceImport" pi ON pi.id = ip."importId"
              WHERE pi."rootVersionId" = (SELECT root FROM serving_root)
                AND NOT ${heldoutText("ip.prompt")} AND NOT ${absorbedSql("ip.id")}) AS imported,
            (SELECT count(*) FROM "ApiPreference" p JOIN "ApiCompletion" a ON a.id = p."completionAId"
              JOIN "ApiCompletion" b ON b.id = p."completionBId"
              WHERE p.choice IN ('A', 'B') AND a."policyVersionId" = b."policyVersionId"
                AND (SELECT root FROM roots WHERE id = a."policyVersionId") = (SELECT root FROM serving_root)
                AND NOT ${heldoutText(`a."promptText"`)} AND NOT ${absorbedSql("p.id")}) AS api`,
  );
  return { imported: Number(rows[0]?.imported ?? 0), api: Number(rows[0]?.api ?? 0) };
}
