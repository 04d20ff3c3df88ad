// Decisive votes as TRL preference data ({"prompt", "chosen", "rejected"} JSON lines), for
// training models too large for TensorFlow.js elsewhere (README "How it scales"). Ties and
// both-bad say nothing about which completion is better, so they are left out, as in training.
// Votes on external contestants' battles are left out too: contestants are rated, never trained on.
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { jsonLinesStream } from "./streams.ts";

export interface TrlPair {
  prompt: string;
  chosen: string;
  rejected: string;
}

export interface DecisiveVoteRow {
  vote_id: string;
  voted_at_ms: number;
  choice: "A" | "B";
  prompt: string;
  text_a: string;
  text_b: string;
}

interface Cursor {
  votedAtMs: number;
  voteId: string;
}

/** One page of decisive (A/B) arena votes with their prompt and both completions, oldest first. */
export async function readDecisiveVotes(
  db: PrismaClient,
  after: { votedAtMs: number; voteId: string } | undefined,
  limit: number,
): Promise<DecisiveVoteRow[]> {
  return db.$queryRaw<DecisiveVoteRow[]>`
    SELECT v.id AS vote_id,
           (extract(epoch FROM v."createdAt") * 1000)::float8 AS voted_at_ms,
           v.choice::text AS choice,
           p.text AS prompt,
           ca.text AS text_a,
           cb.text AS text_b
    FROM "Vote" v
    JOIN "Battle" b ON b.id = v."battleId"
    JOIN "Prompt" p ON p.id = b."promptId"
    JOIN "Completion" ca ON ca."battleId" = b.id AND ca.slot = 'A'
    JOIN "Completion" cb ON cb."battleId" = b.id AND cb.slot = 'B'
    WHERE v.choice IN ('A', 'B') AND b.kind <> 'CONTESTANT' AND b."goldPairId" IS NULL
      AND NOT EXISTS (SELECT 1 FROM "User" u WHERE u.id = v."labelerId" AND u.excluded)
      AND (v."createdAt", v.id) > ('epoch'::timestamp + ${after?.votedAtMs ?? -1}::float8 * interval '1 millisecond', ${after?.voteId ?? ""})
    ORDER BY v."createdAt", v.id
    LIMIT ${limit}`;
}

export function toTrlPair(row: Pick<DecisiveVoteRow, "choice" | "prompt" | "text_a" | "text_b">): TrlPair {
  const aWon = row.choice === "A";
  return { prompt: row.prompt, chosen: aWon ? row.text_a : row.text_b, rejected: aWon ? row.text_b : row.text_a };
}

export function streamTrlPairs({ db, batchSize = 2_000 }: { db: PrismaClient; batchSize?: number }): ReadableStream<Uint8Array> {
  return jsonLinesStream<DecisiveVoteRow, Cursor>({
    async readPage(after) {
      const rows = await readDecisiveVotes(db, after, batchSize);
      const last = rows[rows.length - 1];
      return { rows, next: rows.length < batchSize || !last ? null : { votedAtMs: last.voted_at_ms, voteId: last.vote_id } };
    },
    toLine: toTrlPair,
  });
}
