// `npm run bench -- export`: the TRL preference export of issue 17 streamed over N decisive
// votes (default 1,000,000) on a fresh database, consuming the same ReadableStream the route
// /api/export/trl returns. Prints time, rows/s, bytes and the process's peak RSS before and after
// the export; with --votes small and large the peak shows whether memory stays flat.
import os from "node:os";
import { parseOrExit } from "../src/cli/args.ts";
import { streamTrlPairs } from "../src/server/services/export/trl.ts";
import { createTestDatabase } from "../test/helpers/db.ts";

const { values: args } = parseOrExit({
  command: "npx tsx bench/export.ts",
  description: "Streams the TRL preference export over N decisive votes and prints time and peak RSS as JSON lines.",
  options: {
    votes: { type: "number", integer: true, above: 0, default: 1_000_000, help: "decisive votes in the database" },
    "batch-size": { type: "number", integer: true, above: 0, default: 2_000, help: "votes per page the export reads" },
  },
});
const N = args.votes;
const emit = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ bench: "export_trl", ...o })}\n`);
const log = (msg: string) => process.stderr.write(`[bench:export] ${msg}\n`);
const rssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);
const load = () => +os.loadavg()[0]!.toFixed(2);

const t = await createTestDatabase();
try {
  const db = t.db;
  // Labelers × prompts, each labeler judges each prompt once (the database allows no more).
  const prompts = 1000;
  const labelers = Math.ceil(N / prompts);
  const t0 = performance.now();
  await db.$executeRawUnsafe(
    `INSERT INTO "PolicyVersion"(id, name, "checkpointUri", "checkpointSha256", status) VALUES (1, 'v0', 'file:/none', 'x', 'SERVING')`,
  );
  await db.$executeRawUnsafe(
    `INSERT INTO "User"(id, username, "passwordHash") SELECT 'u' || i, 'labeler' || i, 'x' FROM generate_series(0, ${labelers - 1}) i`,
  );
  await db.$executeRawUnsafe(
    `INSERT INTO "Prompt"(id, text, source) SELECT 'p' || i, 'Write one sentence about the number ' || i || ', as a kind neighbour would.', 'bench' FROM generate_series(0, ${prompts - 1}) i`,
  );
  // Batches of 100k keep each statement's trigger work and memory moderate.
  for (let from = 0; from < N; from += 100_000) {
    const to = Math.min(N, from + 100_000) - 1;
    await db.$executeRawUnsafe(
      `INSERT INTO "Battle"(id, "promptId", "labelerId", kind, status, "policyAId", "policyBId", "leaseExpiresAt", "createdAt")
       SELECT 'b' || i, 'p' || (i % ${prompts}), 'u' || (i / ${prompts}), 'ON_POLICY', 'VOTED', 1, 1, now(), now() - interval '1 day'
         FROM generate_series(${from}, ${to}) i`,
    );
    await db.$executeRawUnsafe(
      `INSERT INTO "Completion"(id, "battleId", slot, "promptId", "policyVersionId", text, "promptTokenIds", "tokenIds",
                                temperature, "topP", "topK", "maxNewTokens", seed, "finishReason", "latencyMs")
       SELECT 'c' || i || s.slot, 'b' || i, s.slot::"Slot", 'p' || (i % ${prompts}), 1,
              ' It is a fine number, ' || s.slot || i || ', and we are glad to have it around the house.',
              '{256}', '{32,73,116}', 0.9, 0.95, 0, 160, i, 'length', 100
         FROM generate_series(${from}, ${to}) i CROSS JOIN (VALUES ('A'), ('B')) s(slot)`,
    );
    await db.$executeRawUnsafe(
      `INSERT INTO "Vote"(id, "battleId", "labelerId", choice, "msToVote", "idempotencyKey", "createdAt")
       SELECT 'v' || i, 'b' || i, 'u' || (i / ${prompts}), (CASE WHEN i % 2 = 0 THEN 'A' ELSE 'B' END)::"VoteChoice", 4000, 'k' || i,
              now() - interval '1 day' + i * interval '1 millisecond'
         FROM generate_series(${from}, ${to}) i`,
    );
    log(`inserted ${to + 1} of ${N} votes`);
  }
  await db.$executeRawUnsafe(`ANALYZE`);
  const insertSeconds = (performance.now() - t0) / 1000;

  const rssBefore = rssMb();
  const started = performance.now();
  const reader = streamTrlPairs({ db, batchSize: args["batch-size"] }).getReader();
  let bytes = 0;
  let lines = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    for (const b of value) if (b === 10) lines++;
  }
  const seconds = (performance.now() - started) / 1000;
  if (lines !== N) throw new Error(`the export wrote ${lines} lines for ${N} decisive votes`);
  emit({
    votes: N,
    lines,
    mb: +(bytes / 1e6).toFixed(1),
    seconds: +seconds.toFixed(1),
    rows_per_s: Math.round(lines / seconds),
    peak_rss_mb_before: rssBefore,
    peak_rss_mb_after: rssMb(),
    insert_seconds: +insertSeconds.toFixed(1),
    batch_size: args["batch-size"],
    loadavg_1m: load(),
  });
} finally {
  await t.drop();
}
