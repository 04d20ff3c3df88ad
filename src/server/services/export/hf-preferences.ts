// Every decisive preference as Hugging Face datasets-style conversational preference JSONL
// ({"prompt": [messages], "chosen": [assistant message], "rejected": [...]}, the form TRL's
// DPOTrainer and `datasets.load_dataset("json", …)` read), arena votes first, then votes sent
// through /v1/preferences, each line tagged with its `source` so they can be told apart.
// Arena prompts are plain text, which the API also treats as one user message.
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { jsonLinesStream } from "./streams.ts";
import { readDecisiveVotes } from "./trl.ts";

interface Message {
  role: string;
  content: string;
}

export interface HfPreferenceLine {
  id: string;
  source: "arena" | "api";
  prompt: Message[];
  chosen: Message[];
  rejected: Message[];
  created_at: string;
}

interface Row {
  id: string;
  created_ms: number;
  choice: "A" | "B";
  prompt: string;
  messages: Message[] | null;
  text_a: string;
  text_b: string;
}

type Cursor = { phase: "arena" | "api"; afterMs: number; afterId: string };

async function readPage(db: PrismaClient, c: Cursor, limit: number): Promise<Row[]> {
  const after = { ms: c.afterMs, id: c.afterId };
  if (c.phase === "arena") {
    const votes = await readDecisiveVotes(db, { votedAtMs: after.ms, voteId: after.id }, limit);
    return votes.map((v) => ({
      id: v.vote_id,
      created_ms: v.voted_at_ms,
      choice: v.choice,
      prompt: v.prompt,
      messages: null,
      text_a: v.text_a,
      text_b: v.text_b,
    }));
  }
  return db.$queryRaw<Row[]>`
    SELECT pr.id, (extract(epoch FROM pr."createdAt") * 1000)::float8 AS created_ms, pr.choice::text AS choice,
           ca."promptText" AS prompt, ca.messages, ca.text AS text_a, cb.text AS text_b
      FROM "ApiPreference" pr
      JOIN "ApiCompletion" ca ON ca.id = pr."completionAId"
      JOIN "ApiCompletion" cb ON cb.id = pr."completionBId"
     WHERE pr.choice IN ('A', 'B')
       AND (pr."createdAt", pr.id) > ('epoch'::timestamp + ${after.ms}::float8 * interval '1 millisecond', ${after.id})
     ORDER BY pr."createdAt", pr.id
     LIMIT ${limit}`;
}

export function streamHfPreferences({ db, batchSize = 2_000 }: { db: PrismaClient; batchSize?: number }): ReadableStream<Uint8Array> {
  return jsonLinesStream<Row & { source: "arena" | "api" }, Cursor>({
    async readPage(cursor) {
      const c = cursor ?? { phase: "arena", afterMs: -1, afterId: "" };
      const rows = await readPage(db, c, batchSize);
      const last = rows.at(-1);
      const next: Cursor | null =
        rows.length === batchSize && last
          ? { ...c, afterMs: last.created_ms, afterId: last.id }
          : c.phase === "arena"
            ? { phase: "api", afterMs: -1, afterId: "" }
            : null;
      return { rows: rows.map((r) => ({ ...r, source: c.phase })), next };
    },
    toLine(r): HfPreferenceLine {
      const [chosen, rejected] = r.choice === "A" ? [r.text_a, r.text_b] : [r.text_b, r.text_a];
      return {
        id: r.id,
        source: r.source,
        prompt: r.messages ?? [{ role: "user", content: r.prompt }],
        chosen: [{ role: "assistant", content: chosen }],
        rejected: [{ role: "assistant", content: rejected }],
        created_at: new Date(r.created_ms).toISOString(),
      };
    },
  });
}
