// Direct writes to the database the e2e runner created (E2E_DATABASE_URL), for what a browser
// test needs to exist but should not have to click through: labelers' votes for a round.
import { randomUUID } from "node:crypto";
import pg from "pg";
import { byteTokenizer, encodePrompt } from "../src/lm/tokenizer.ts";

export function e2eDatabaseUrl(): string {
  const url = process.env.E2E_DATABASE_URL;
  if (!url) throw new Error("E2E_DATABASE_URL is not set: run the browser tests with `npm run test:e2e`.");
  return url;
}

export async function withClient<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: e2eDatabaseUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const GOOD = ["a bright and kind morning", "joy and hope for all", "a fair, free and happy people", "peace, trust and good will"];
const BAD = ["a dark and cruel night", "fear and ruin for all", "a bitter, broken and sad people", "war, hate and bad faith"];

/**
 * `count` decisive votes on on-policy battles of the serving version, as the arena stores them:
 * a prompt, a VOTED battle, two completions with the byte tokenizer's exact prompt and
 * completion token ids (what the house model would have sampled), and an A/B vote for the
 * completion with the kinder words (a preference DPO can learn). Each call uses new prompts.
 * Returns the vote ids.
 */
export async function insertDecisiveVotes(count: number, tag: string): Promise<string[]> {
  const tok = byteTokenizer();
  return withClient(async (db) => {
    await db.query("BEGIN");
    try {
      const serving = await db.query<{ id: number }>(`SELECT id FROM "PolicyVersion" WHERE status = 'SERVING'`);
      if (serving.rows.length !== 1) throw new Error(`expected one SERVING policy version, found ${serving.rows.length}`);
      const versionId = serving.rows[0].id;
      const labelerId = `e2e-labeler-${tag}`;
      // A labeler who cannot sign in (the hash is not an argon2 hash): only its votes matter here.
      await db.query(`INSERT INTO "User" (id, username, "passwordHash", role) VALUES ($1, $2, 'not-a-password-hash', 'LABELER')`, [
        labelerId,
        `votes-${tag}`,
      ]);
      const voteIds: string[] = [];
      for (let i = 0; i < count; i++) {
        const promptText = `In the year ${1800 + i} the nation saw`;
        const promptId = `e2e-prompt-${tag}-${i}`;
        await db.query(`INSERT INTO "Prompt" (id, text, source) VALUES ($1, $2, 'e2e')`, [promptId, promptText]);
        const battleId = `e2e-battle-${tag}-${i}`;
        await db.query(
          `INSERT INTO "Battle" (id, "promptId", "labelerId", kind, status, "policyAId", "policyBId", swapped, "leaseExpiresAt", "finishedAt")
           VALUES ($1, $2, $3, 'ON_POLICY', 'VOTED', $4, $4, false, now() + interval '1 hour', now())`,
          [battleId, promptId, labelerId, versionId],
        );
        const goodInA = i % 2 === 0;
        const promptTokenIds = encodePrompt(tok, promptText);
        for (const slot of ["A", "B"] as const) {
          const words = (slot === "A") === goodInA ? GOOD : BAD;
          const text = ` ${words[i % 4]}, and ${words[(i + 1) % 4]}; so said the President of ${words[(i + 2) % 4]}.`;
          await db.query(
            `INSERT INTO "Completion" (id, "battleId", slot, "promptId", "policyVersionId", text, "promptTokenIds", "tokenIds",
                                       temperature, "topP", "topK", "maxNewTokens", seed, "finishReason", "latencyMs")
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0.8, 1, 0, 128, $9, 'length', 900)`,
            [`e2e-completion-${tag}-${i}-${slot}`, battleId, slot, promptId, versionId, text, promptTokenIds, tok.encode(text), i],
          );
        }
        const voteId = `e2e-vote-${tag}-${i}`;
        await db.query(
          `INSERT INTO "Vote" (id, "battleId", "labelerId", choice, "msToVote", "idempotencyKey", "createdAt")
           VALUES ($1, $2, $3, $4, 4000, $5, now() + make_interval(secs => $6))`,
          [voteId, battleId, labelerId, goodInA ? "A" : "B", randomUUID(), i / 1000],
        );
        voteIds.push(voteId);
      }
      await db.query("COMMIT");
      return voteIds;
    } catch (err) {
      await db.query("ROLLBACK");
      throw err;
    }
  });
}

/** What the database holds for a round: its recorded steps, last step and result version. */
export async function roundFacts(roundNumber: number): Promise<{ steps: number; lastStep: number; resultVersion: string | null }> {
  return withClient(async (db) => {
    const res = await db.query<{ n: string; last: number | null; version: string | null }>(
      `SELECT (SELECT count(*) FROM "RoundMetric" m WHERE m."roundId" = r.id) AS n,
              (SELECT max(step) FROM "RoundMetric" m WHERE m."roundId" = r.id) AS last,
              v.name AS version
         FROM "TrainingRound" r LEFT JOIN "PolicyVersion" v ON v.id = r."resultVersionId"
        WHERE r.number = $1`,
      [roundNumber],
    );
    if (res.rows.length !== 1) throw new Error(`round ${roundNumber} does not exist`);
    return { steps: Number(res.rows[0].n), lastStep: res.rows[0].last ?? -1, resultVersion: res.rows[0].version };
  });
}
