// `npm run bench -- leaderboard`: the leaderboard's cost on an arena of 20 versions × 50k
// voted battles in a fresh database: reading the votes, computing the snapshot (100 bootstrap
// rounds + history), and serving from the cache (memory hit, and a replica reading the Setting
// row). With a production build (.next/BUILD_ID) it also times GET /leaderboard end to end on
// `next start`. Prints JSON lines; asserts nothing about time.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { freePort } from "../src/devtools/processes.ts";
import { createRng } from "../src/rating/index.ts";
import { loadRatingBattles, loadVotedBattles } from "../src/server/services/leaderboard/battle-records.ts";
import { forgetLeaderboardMemory, getLeaderboard, refreshLeaderboard } from "../src/server/services/leaderboard/cache.ts";
import { computeSnapshot } from "../src/server/services/leaderboard/snapshot.ts";
import { setLeaderboardVisibility } from "../src/server/services/leaderboard/visibility.ts";
import { createTestDatabase } from "../test/helpers/db.ts";

const VERSIONS = Number(process.env.BENCH_LB_VERSIONS ?? 20);
const BATTLES = Number(process.env.BENCH_LB_BATTLES ?? 50_000);
const ROOT = path.resolve(import.meta.dirname, "..");

function emit(name: string, fields: Record<string, unknown>) {
  console.log(JSON.stringify({ bench: `leaderboard.${name}`, versions: VERSIONS, battles: BATTLES, ...fields }));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.floor(s.length / 2)]! * 100) / 100;
}

async function time<T>(fn: () => Promise<T> | T): Promise<[number, T]> {
  const t0 = performance.now();
  const out = await fn();
  return [performance.now() - t0, out];
}

/** Votes drawn from a known Bradley–Terry model (true ratings 25 points apart), 10% ties. */
async function seed(url: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`INSERT INTO "User"(id, username, "passwordHash") VALUES ('bench-user', 'bench', 'x')`);
    for (let i = 0; i < VERSIONS; i++) {
      await client.query(
        `INSERT INTO "PolicyVersion"(id, name, "checkpointUri", "checkpointSha256", status) VALUES ($1, $2, 'file:/none', $3, 'RETIRED')`,
        [i + 1, `v${i}`, "0".repeat(64)],
      );
    }
    const rng = createRng(7);
    const ids: string[] = [],
      a: number[] = [],
      b: number[] = [],
      choice: string[] = [],
      at: string[] = [];
    const start = Date.UTC(2026, 0, 1);
    for (let k = 0; k < BATTLES; k++) {
      const i = Math.floor(rng.next() * VERSIONS);
      const j = (i + 1 + Math.floor(rng.next() * (VERSIONS - 1))) % VERSIONS;
      const pA = 1 / (1 + 10 ** ((25 * j - 25 * i) / 400));
      const u = rng.next();
      ids.push(`bench${k}`);
      a.push(i + 1);
      b.push(j + 1);
      choice.push(u < 0.1 ? (u < 0.03 ? "BOTH_BAD" : "TIE") : rng.next() < pA ? "A" : "B");
      at.push(new Date(start + k * 1000).toISOString());
    }
    // A prompt per battle: one labeler judges each prompt once (a unique key since issue 16).
    await client.query(
      `INSERT INTO "Prompt"(id, text, source) SELECT 'prompt-' || id, 'bench prompt ' || id, 'bench' FROM unnest($1::text[]) AS u(id)`,
      [ids],
    );
    await client.query(
      `INSERT INTO "Battle"(id, "promptId", "labelerId", kind, status, "policyAId", "policyBId", "leaseExpiresAt", "createdAt")
       SELECT id, 'prompt-' || id, 'bench-user', 'VERSUS', 'VOTED', pa, pb, t::timestamp, t::timestamp FROM unnest($1::text[], $2::int[], $3::int[], $4::text[]) AS u(id, pa, pb, t)`,
      [ids, a, b, at],
    );
    await client.query(
      `INSERT INTO "Vote"(id, "battleId", "labelerId", choice, "msToVote", "idempotencyKey", "createdAt")
       SELECT 'vote-' || id, id, 'bench-user', c::"VoteChoice", 1000, 'key-' || id, t::timestamp FROM unnest($1::text[], $2::text[], $3::text[]) AS u(id, c, t)`,
      [ids, choice, at],
    );
  } finally {
    await client.end();
  }
}

/** GET /leaderboard on `next start` against the bench database (the snapshot is already stored). */
async function httpRender(databaseUrl: string) {
  if (!existsSync(path.join(ROOT, ".next/BUILD_ID"))) {
    emit("http_render", { skipped: "no production build (.next/BUILD_ID); run `npm run build` first" });
    return;
  }
  const port = await freePort();
  const server = spawn(
    process.execPath,
    [path.join(ROOT, "node_modules/next/dist/bin/next"), "start", "-p", String(port), "-H", "127.0.0.1"],
    {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: databaseUrl, NODE_ENV: "production", TRAINER_ENABLED: "false", LOG_LEVEL: "warn" },
      stdio: ["ignore", "ignore", "inherit"],
      detached: true,
    },
  );
  try {
    const url = `http://127.0.0.1:${port}/leaderboard`;
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        if ((await fetch(url)).status === 200) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error("next start did not serve /leaderboard within 60 s");
      await new Promise((r) => setTimeout(r, 500));
    }
    const ms: number[] = [];
    let bytes = 0;
    for (let i = 0; i < 15; i++) {
      const [t, body] = await time(async () => (await fetch(url)).text());
      ms.push(t);
      bytes = body.length;
    }
    emit("http_render", { median_ms: median(ms), max_ms: Math.round(Math.max(...ms)), html_bytes: bytes });
  } finally {
    try {
      process.kill(-server.pid!, "SIGTERM");
    } catch {
      // already gone
    }
  }
}

async function main() {
  const t = await createTestDatabase();
  try {
    const [seedMs] = await time(() => seed(t.url));
    emit("seed", { ms: Math.round(seedMs) });

    const [rowsMs, rows] = await time(() => loadVotedBattles({ db: t.db }));
    emit("load_votes_rows", { ms: Math.round(rowsMs), rows: rows.length, note: "row objects with ids (what the export reads)" });
    const [loadMs, { battles }] = await time(() => loadRatingBattles({ db: t.db }));
    emit("load_votes", { ms: Math.round(loadMs), rows: battles.length, note: "four arrays in one row (what the leaderboard reads)" });

    const cpu0 = process.cpuUsage();
    const [computeMs, snap] = await time(() => computeSnapshot(battles, { votes: battles.length, lastVoteAtMs: null }));
    const cpu = process.cpuUsage(cpu0);
    emit("compute", {
      ms: Math.round(computeMs),
      cpu_ms: Math.round((cpu.user + cpu.system) / 1000),
      l2: snap.l2,
      unconverged_rounds: snap.board.unconvergedRounds,
      snapshot_json_bytes: JSON.stringify(snap).length,
    });

    const [refreshMs] = await time(() => refreshLeaderboard({ db: t.db }));
    emit("refresh_total", { ms: Math.round(refreshMs), note: "read votes + compute + store the Setting row" });

    const hits: number[] = [];
    for (let i = 0; i < 30; i++) hits.push((await time(() => getLeaderboard({ db: t.db, markMaxAgeMs: 0 })))[0]);
    emit("cache_hit", {
      median_ms: median(hits),
      max_ms: Math.round(Math.max(...hits) * 10) / 10,
      note: "vote-mark check + memory snapshot",
    });
    const shared: number[] = [];
    for (let i = 0; i < 30; i++) shared.push((await time(() => getLeaderboard({ db: t.db })))[0]);
    emit("cache_hit_shared_check", {
      median_ms: median(shared),
      max_ms: Math.round(Math.max(...shared) * 10) / 10,
      note: "default: one vote-mark check per second per process",
    });

    const replica: number[] = [];
    for (let i = 0; i < 15; i++) {
      forgetLeaderboardMemory({ db: t.db });
      replica.push((await time(() => getLeaderboard({ db: t.db, markMaxAgeMs: 0 })))[0]);
    }
    emit("replica_read", {
      median_ms: median(replica),
      max_ms: Math.round(Math.max(...replica) * 10) / 10,
      note: "vote-mark check + Setting row read",
    });

    await setLeaderboardVisibility({ db: t.db, visibility: "public" });
    await httpRender(t.url);
  } finally {
    await t.drop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.stack : String(err));
    process.exit(1);
  },
);
