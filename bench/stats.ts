// `npm run bench -- stats`: what "my stats" and a leaderboard recomputation cost the web
// process (issue 16 item 4), in a fresh database of LABELERS labelers × VOTES votes (overlap 3).
// - my stats: the agreement query as it was (every vote's item, then filtered) and as it is
//   (index lookups from this labeler's votes), with PostgreSQL's plan timing and buffers;
// - leaderboard: the longest event-loop stall of this process while a recomputation runs
//   inline (as it was) and in a worker thread (as it is).
// Prints JSON lines with the load average; asserts nothing about time.
import os from "node:os";
import pg from "pg";
import { refreshLeaderboard } from "../src/server/services/leaderboard/cache.ts";
import { computeLeaderboardSnapshot } from "../src/server/services/leaderboard/compute.ts";
import { myItemsQuery } from "../src/server/services/stats/labelers.ts";
import { createTestDatabase } from "../test/helpers/db.ts";

const VOTES = Number(process.env.BENCH_STATS_VOTES ?? 30_000);
const LABELERS = Number(process.env.BENCH_STATS_LABELERS ?? 100);
const OVERLAP = 3;

const emit = (name: string, fields: Record<string, unknown>) =>
  console.log(
    JSON.stringify({
      bench: `stats.${name}`,
      votes: VOTES,
      labelers: LABELERS,
      loadavg: os.loadavg().map((x) => +x.toFixed(2)),
      ...fields,
    }),
  );

// The query before issue 16 item 4: the CTE is referenced twice, so PostgreSQL materialises it
// over every vote (with two md5s of completion text each) before filtering.
const BEFORE = `
  WITH items AS (
    SELECT v."labelerId", v.choice::text AS choice, v."msToVote", v."createdAt",
           b."promptId" || ':' || md5(ca.text) || ':' || md5(cb.text) AS item, b."promptId"
      FROM "Vote" v
      JOIN "Battle" b ON b.id = v."battleId"
      JOIN "Completion" ca ON ca."battleId" = b.id AND ca.slot = 'A'
      JOIN "Completion" cb ON cb."battleId" = b.id AND cb.slot = 'B')
  SELECT "labelerId", choice, "msToVote", "createdAt", item FROM items
   WHERE "promptId" IN (SELECT "promptId" FROM items WHERE "labelerId" = $1)`;

async function seed(client: pg.Client) {
  const prompts = Math.ceil(VOTES / OVERLAP);
  await client.query(
    `INSERT INTO "PolicyVersion"(id, name, "checkpointUri", "checkpointSha256", status) VALUES (1, 'v0', 'file:/none', $1, 'SERVING')`,
    ["0".repeat(64)],
  );
  await client.query(
    `INSERT INTO "User"(id, username, "passwordHash") SELECT 'u' || i, 'labeler' || i, 'x' FROM generate_series(0, $1 - 1) i`,
    [LABELERS],
  );
  await client.query(`INSERT INTO "Prompt"(id, text, source) SELECT 'p' || i, 'prompt ' || i, 'bench' FROM generate_series(0, $1 - 1) i`, [
    prompts,
  ]);
  // vote k: prompt k / OVERLAP, labeler (k + k / OVERLAP) mod LABELERS (distinct within a prompt)
  await client.query(
    `INSERT INTO "Battle"(id, "promptId", "labelerId", kind, status, "policyAId", "policyBId", "leaseExpiresAt")
     SELECT 'b' || k, 'p' || (k / $2), 'u' || ((k + k / $2) % $3), 'ON_POLICY', 'VOTED', 1, 1, now() FROM generate_series(0, $1 - 1) k`,
    [VOTES, OVERLAP, LABELERS],
  );
  for (const slot of ["A", "B"]) {
    await client.query(
      `INSERT INTO "Completion"(id, "battleId", slot, "promptId", "policyVersionId", text, "promptTokenIds", "tokenIds", temperature, "topP", "topK", "maxNewTokens", seed, "finishReason", "latencyMs")
       SELECT 'c${slot}' || k, 'b' || k, '${slot}', 'p' || (k / $2), 1, repeat('completion text ', 8) || (k / $2), '{}', '{}', 1, 1, 0, 32, 1, 'length', 100
         FROM generate_series(0, $1 - 1) k`,
      [VOTES, OVERLAP],
    );
  }
  await client.query(
    `INSERT INTO "Vote"(id, "battleId", "labelerId", choice, "msToVote", "idempotencyKey", "createdAt")
     SELECT 'v' || k, 'b' || k, 'u' || ((k + k / $2) % $3), (ARRAY['A','B','TIE','BOTH_BAD']::"VoteChoice"[])[1 + k % 4], 1000, 'key' || k,
            now() - (($1 - k) || ' seconds')::interval
       FROM generate_series(0, $1 - 1) k`,
    [VOTES, OVERLAP, LABELERS],
  );
  await client.query("ANALYZE");
}

async function explain(client: pg.Client, sql: string, params: unknown[]) {
  const { rows } = await client.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${sql}`, params);
  const plan = (
    rows[0] as {
      "QUERY PLAN": {
        Plan: { "Shared Hit Blocks": number; "Shared Read Blocks": number; "Actual Rows": number };
        "Execution Time": number;
      }[];
    }
  )["QUERY PLAN"][0]!;
  return {
    executionMs: +plan["Execution Time"].toFixed(2),
    rows: plan.Plan["Actual Rows"],
    sharedBlocks: plan.Plan["Shared Hit Blocks"] + plan.Plan["Shared Read Blocks"],
  };
}

/** The longest gap between 5 ms timer ticks while `fn` runs: how long this event loop stalled. */
async function maxStall<T>(fn: () => Promise<T>): Promise<{ maxStallMs: number; wallMs: number; out: T }> {
  let last = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last - 5);
    last = now;
  }, 5);
  const t0 = performance.now();
  const out = await fn();
  const wallMs = performance.now() - t0;
  clearInterval(timer);
  return { maxStallMs: Math.round(worst), wallMs: Math.round(wallMs), out };
}

const t = await createTestDatabase();
const client = new pg.Client({ connectionString: t.url });
await client.connect();
try {
  await seed(client);
  // prompt p goes to labelers 4p, 4p+1 and 4p+2 (mod LABELERS): u6 has votes, u7 none
  const labeler = "u6";
  const after = myItemsQuery(labeler);
  for (let i = 0; i < 2; i++) {
    // second round: warm cache
    emit("myStats.before", { round: i, ...(await explain(client, BEFORE, [labeler])) });
    emit("myStats.after", { round: i, ...(await explain(client, after.text, after.values)) });
  }
  const inline = await maxStall(() => computeLeaderboardSnapshot({ db: t.db, where: "inline" }));
  emit("leaderboard.inline", { maxStallMs: inline.maxStallMs, wallMs: inline.wallMs, computeMs: inline.out.snapshot.computeMs });
  const thread = await maxStall(() => refreshLeaderboard({ db: t.db }));
  emit("leaderboard.thread", { maxStallMs: thread.maxStallMs, wallMs: thread.wallMs, computeMs: thread.out.computeMs });
} finally {
  await client.end();
  await t.db.$disconnect();
  await t.drop();
}
