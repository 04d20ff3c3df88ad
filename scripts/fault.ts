// `npm run fault`: the arena under real faults, with real processes and a real PostgreSQL
// (issue 16, "Fault tests"). Everything runs on a private PostgreSQL cluster (the embedded
// server, in a temporary directory on a free port), never the machine's shared one, because one
// scenario stops and starts it. Web servers are the product's route handlers on a plain HTTP
// host (src/sim/product/host.ts: no production build needed); trainers are workers/trainer.ts.
//
//  1. kill -9 of a web server during a 16-labeler vote load: every acknowledged vote is stored
//     once after the restart, and re-sending an acknowledged idempotency key returns that vote.
//  2. PostgreSQL restart during the load: the web answers 503 while it is down (health and API,
//     never 500), and recovers within 5 s of PostgreSQL accepting connections; no vote lost.
//  3. Two web servers and two trainers on one database: labelers on both, a session works on
//     both, a round runs on exactly one trainer; kill -9 of it fails the round within its
//     lease and the other trainer runs the next one; a promotion reaches both web servers
//     within 2 s.
//
// Prints one JSON line per check and exits 1 if any failed. `--only 1,2` runs some scenarios.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { freePort, stopProcessGroup, waitForHealthy } from "../src/devtools/processes.ts";
import { createSession, SESSION_COOKIE } from "../src/server/auth/session.ts";
import { createPrismaClient, type PrismaClient } from "../src/server/db/client.ts";
import { type EmbeddedDatabase, startEmbeddedDatabase } from "../src/server/db/embedded.ts";
import { applyMigrations } from "../src/server/db/migrate.ts";
import { DEFAULT_SETTINGS } from "../src/server/seed.ts";
import { triggerRound } from "../src/server/services/rounds/lifecycle.ts";
import { promoteVersion } from "../src/server/services/versions/promote.ts";
import { fastSettings, registerTinyHouse, seedVotes } from "../test/loop/fixtures.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const LABELERS = 16;
const ONLY = (() => {
  const i = process.argv.indexOf("--only");
  return i >= 0 ? new Set(process.argv[i + 1]!.split(",").map(Number)) : null;
})();
const runs = (n: number) => !ONLY || ONLY.has(n);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (msg: string) => process.stderr.write(`[fault ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
let failures = 0;
function check(scenario: string, name: string, ok: boolean, fields: Record<string, unknown> = {}) {
  if (!ok) failures++;
  process.stdout.write(`${JSON.stringify({ fault: scenario, check: name, ok, ...fields })}\n`);
}

// --- processes -----------------------------------------------------------------------------

let work = "";
const children = new Set<ChildProcess>();

function spawnLogged(name: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const out = createWriteStream(path.join(work, `${name}.log`), { flags: "a" });
  const child = spawn(process.execPath, ["--import", "tsx", ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  child.stdout!.pipe(out);
  child.stderr!.pipe(out);
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

function appEnv(databaseUrl: string): NodeJS.ProcessEnv {
  return {
    DATABASE_URL: databaseUrl,
    CHECKPOINT_DIR: path.join(work, "checkpoints"),
    TF_BACKEND: "cpu",
    SAMPLER_THREADS: "1",
    LOG_LEVEL: "warn",
    NODE_ENV: "production",
  };
}

interface Web {
  base: string;
  port: number;
  child: ChildProcess;
}

async function startWeb(name: string, databaseUrl: string, port?: number): Promise<Web> {
  const p = port ?? (await freePort());
  const child = spawnLogged(name, ["src/sim/product/host.ts"], { ...appEnv(databaseUrl), PORT: String(p), TRAINER_ENABLED: "false" });
  const base = `http://127.0.0.1:${p}`;
  await waitForHealthy(base, child, 90_000, name);
  return { base, port: p, child };
}

function startTrainer(workerId: string, databaseUrl: string, leaseSeconds: number): ChildProcess {
  return spawnLogged(
    workerId,
    ["workers/trainer.ts", "--lease-seconds", String(leaseSeconds), "--tick-ms", "300", "--worker-id", workerId],
    appEnv(databaseUrl),
  );
}

function kill9(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  process.kill(-child.pid!, "SIGKILL");
  return exited;
}

// --- the arena over HTTP ---------------------------------------------------------------------

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function trpc<T>(
  base: string,
  cookie: string,
  procedure: string,
  input: unknown,
  kind: "mutation" | "query" = "mutation",
): Promise<T> {
  const res =
    kind === "mutation"
      ? await fetch(`${base}/api/trpc/${procedure}`, {
          method: "POST",
          headers: { "content-type": "application/json", cookie },
          body: JSON.stringify({ json: input }),
          signal: AbortSignal.timeout(15_000),
        })
      : await fetch(`${base}/api/trpc/${procedure}?input=${encodeURIComponent(JSON.stringify({ json: input }))}`, {
          headers: { cookie },
          signal: AbortSignal.timeout(15_000),
        });
  const body = (await res.json().catch(() => ({}))) as { result?: { data: { json: T } }; error?: { json: { message: string } } };
  if (!res.ok) throw new HttpError(res.status, `${procedure}: HTTP ${res.status}: ${body.error?.json.message}`);
  return body.result!.data.json;
}

async function streamToReady(base: string, cookie: string, battleId: string): Promise<void> {
  const res = await fetch(`${base}/api/battles/${battleId}/stream`, { headers: { cookie }, signal: AbortSignal.timeout(60_000) });
  if (!res.ok || !res.body) throw new HttpError(res.status, `stream: HTTP ${res.status}`);
  let buffered = "";
  const decoder = new TextDecoder();
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true });
    if (/^event: ready$/m.test(buffered)) return;
    if (/^event: failure$/m.test(buffered)) throw new Error("stream: failure event");
  }
  throw new Error("stream ended without ready");
}

interface Ack {
  key: string;
  battleId: string;
  voteId: string;
  at: number;
  labeler: number;
}

interface Load {
  acks: Ack[];
  /** HTTP statuses of failed calls (0: no answer), with what and when */
  failures: { status: number; at: number; what: string }[];
  stop(): Promise<void>;
}

/**
 * LABELERS labelers voting as fast as the arena lets them. A vote is re-sent with the same
 * idempotency key until acknowledged (or 60 s), as the page does; `acks` are the votes the
 * server acknowledged. `baseOf(i)` picks labeler i's web server at each call.
 */
function startLoad(cookies: string[], baseOf: (i: number) => string): Load {
  const acks: Ack[] = [];
  const failures: Load["failures"] = [];
  let stopping = false;
  const noteFailure = (err: unknown) =>
    failures.push({ status: err instanceof HttpError ? err.status : 0, at: Date.now(), what: (err as Error).message.split(":")[0]! });
  const one = async (i: number) => {
    while (!stopping) {
      try {
        const next = await trpc<{ status: string; battle?: { battleId: string } }>(baseOf(i), cookies[i]!, "arena.next", {
          excludeBattleIds: [],
        });
        if (next.status !== "battle") {
          await sleep(300);
          continue;
        }
        const battleId = next.battle!.battleId;
        await streamToReady(baseOf(i), cookies[i]!, battleId);
        const key = `fault-${randomBytes(9).toString("base64url")}`;
        const giveUpAt = Date.now() + 60_000;
        for (;;) {
          try {
            const r = await trpc<{ voteId: string }>(baseOf(i), cookies[i]!, "arena.vote", {
              battleId,
              choice: Math.random() < 0.5 ? "A" : "B",
              idempotencyKey: key,
              msToVote: 500,
            });
            acks.push({ key, battleId, voteId: r.voteId, at: Date.now(), labeler: i });
            break;
          } catch (err) {
            noteFailure(err);
            if ((err instanceof HttpError && err.status >= 400 && err.status < 500 && err.status !== 429) || Date.now() > giveUpAt) break;
            await sleep(200);
          }
        }
      } catch (err) {
        noteFailure(err);
        await sleep(200);
      }
    }
  };
  const running = Promise.all(cookies.map((_, i) => one(i)));
  return {
    acks,
    failures,
    stop: async () => {
      stopping = true;
      await running;
    },
  };
}

/** Every acknowledged vote is stored exactly once, under its key, for its battle. */
async function verifyAcks(scenario: string, db: PrismaClient, acks: Ack[]) {
  const stored = await db.vote.findMany({
    where: { idempotencyKey: { in: acks.map((a) => a.key) } },
    select: { id: true, idempotencyKey: true, battleId: true },
  });
  const byKey = new Map(stored.map((v) => [v.idempotencyKey, v]));
  const lost = acks.filter((a) => byKey.get(a.key)?.id !== a.voteId || byKey.get(a.key)?.battleId !== a.battleId);
  check(scenario, "every acknowledged vote is stored", lost.length === 0 && acks.length > 0, {
    acknowledged: acks.length,
    lost: lost.length,
  });
  const [dup] = await db.$queryRaw<{ n: number }[]>`
    SELECT count(*)::int AS n FROM (SELECT "battleId" FROM "Vote" GROUP BY 1 HAVING count(*) > 1
                                     UNION ALL SELECT "idempotencyKey" FROM "Vote" GROUP BY 1 HAVING count(*) > 1) d`;
  check(scenario, "no vote stored twice", dup!.n === 0, { duplicates: dup!.n });
}

async function waitFor(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) await sleep(200);
  return done();
}

async function healthStatus(base: string): Promise<number> {
  try {
    const res = await fetch(`${base}/api/health`, { signal: AbortSignal.timeout(3000) });
    await res.body?.cancel();
    return res.status;
  } catch {
    return 0;
  }
}

// --- scenarios -------------------------------------------------------------------------------

interface World {
  pg: EmbeddedDatabase;
  pgPort: number;
  db: PrismaClient;
  url: string;
  cookies: string[];
  labelerIds: string[];
  v0: { id: number; name: string };
}

async function createWorld(pgPort: number): Promise<World> {
  const pg = await startEmbeddedDatabase({ dataDir: path.join(work, "pg"), port: pgPort, database: "dpo_fault" });
  const url = pg.url;
  await applyMigrations({ databaseUrl: url });
  const db = createPrismaClient(url);
  await db.setting.createMany({ data: Object.entries(DEFAULT_SETTINGS).map(([key, value]) => ({ key, value: value as object })) });
  await db.setting.update({ where: { key: "sampling" }, data: { value: { temperature: 1, topP: 1, topK: 0, maxNewTokens: 8 } } });
  const v0 = await registerTinyHouse(db);
  await db.prompt.createMany({
    data: Array.from({ length: 4000 }, (_, i) => ({ text: `fault prompt ${i}: the sea was`, source: "fault" })),
  });
  const cookies: string[] = [];
  const labelerIds: string[] = [];
  for (let i = 0; i < LABELERS; i++) {
    const user = await db.user.create({ data: { username: `fault${i}`, passwordHash: "unused" }, select: { id: true } });
    const { token } = await createSession({ db, userId: user.id, ttlHours: 24 });
    cookies.push(`${SESSION_COOKIE}=${token}`);
    labelerIds.push(user.id);
  }
  return { pg, pgPort, db, url, cookies, labelerIds, v0 };
}

async function killWebServer(w: World) {
  const S = "kill -9 web server";
  let web = await startWeb("web1", w.url);
  const load = startLoad(w.cookies, () => web.base);
  // The first battle starts the web's sampler (threads, model): kill only once votes flow.
  await waitFor(() => load.acks.length >= LABELERS, 120_000);
  await sleep(3000);
  const before = load.acks.length;
  log(`${S}: ${before} votes acknowledged; kill -9`);
  await kill9(web.child);
  const killedAt = Date.now();
  web = await startWeb("web1", w.url, web.port);
  const upAt = Date.now();
  await sleep(6000);
  await load.stop();
  const after = load.acks.filter((a) => a.at > upAt).length;
  check(S, "votes are acknowledged after the restart", after > 0, { before, after, restartMs: upAt - killedAt });
  await verifyAcks(S, w.db, load.acks);
  const again = load.acks[0]!;
  const replay = await trpc<{ voteId: string; replayed: boolean }>(web.base, w.cookies[again.labeler]!, "arena.vote", {
    battleId: again.battleId,
    choice: "A",
    idempotencyKey: again.key,
    msToVote: 500,
  });
  check(S, "a re-sent idempotency key returns the stored vote", replay.voteId === again.voteId && replay.replayed, {
    voteId: replay.voteId,
  });
  return web;
}

async function restartPostgres(w: World, web: Web) {
  const S = "PostgreSQL restart";
  const load = startLoad(w.cookies, () => web.base);
  await waitFor(() => load.acks.length >= LABELERS, 120_000);
  await sleep(2000);
  log(`${S}: ${load.acks.length} votes acknowledged; stopping PostgreSQL`);
  await w.pg.stop();
  const downAt = Date.now();
  const healthWhileDown: number[] = [];
  while (Date.now() - downAt < 4000) {
    healthWhileDown.push(await healthStatus(web.base));
    await sleep(250);
  }
  const apiWhileDown = load.failures.filter((f) => f.at > downAt + 500 && f.at < Date.now());
  w.pg = await startEmbeddedDatabase({ dataDir: path.join(work, "pg"), port: w.pgPort, database: "dpo_fault" });
  const acceptingAt = Date.now();
  let healthyAt = 0;
  while (Date.now() - acceptingAt < 20_000) {
    if ((await healthStatus(web.base)) === 200) {
      healthyAt = Date.now();
      break;
    }
    await sleep(100);
  }
  const firstVoteDeadline = Date.now() + 20_000;
  while (!load.acks.some((a) => a.at > acceptingAt) && Date.now() < firstVoteDeadline) await sleep(100);
  const firstVote = load.acks.find((a) => a.at > acceptingAt);
  await sleep(3000);
  await load.stop();
  check(S, "health answers 503 while PostgreSQL is down", healthWhileDown.length > 0 && healthWhileDown.every((s) => s === 503), {
    statuses: [...new Set(healthWhileDown)],
  });
  const answers: Record<string, number> = {};
  for (const f of apiWhileDown) answers[`${f.what} ${f.status}`] = (answers[`${f.what} ${f.status}`] ?? 0) + 1;
  check(S, "API calls fail with 503, never 500, while it is down", apiWhileDown.length > 0 && !apiWhileDown.some((f) => f.status === 500), {
    answers,
  });
  check(S, "healthy within 5 s of PostgreSQL accepting connections", healthyAt > 0 && healthyAt - acceptingAt <= 5000, {
    ms: healthyAt ? healthyAt - acceptingAt : null,
  });
  check(S, "a vote is acknowledged within 5 s of PostgreSQL accepting connections", !!firstVote && firstVote.at - acceptingAt <= 5000, {
    ms: firstVote ? firstVote.at - acceptingAt : null,
  });
  await verifyAcks(S, w.db, load.acks);
}

async function twoAndTwo(w: World, web1: Web) {
  const S = "two web servers, two trainers";
  const web2 = await startWeb("web2", w.url);
  // sessions live in PostgreSQL: one cookie works on both
  const onBoth = await Promise.all(
    [web1, web2].map((web) => trpc<{ votesTotal: number }>(web.base, w.cookies[0]!, "arena.myStats", {}, "query")),
  );
  check(S, "a session works on both web servers", onBoth[0]!.votesTotal === onBoth[1]!.votesTotal, { votesTotal: onBoth[0]!.votesTotal });

  const lease = 8;
  await fastSettings(w.db, { dpo: { epochs: 20 } });
  await seedVotes(w.db, w.v0.id, 32, { offset: 10_000 });
  const trainers = new Map([
    ["fault-t1", startTrainer("fault-t1", w.url, lease)],
    ["fault-t2", startTrainer("fault-t2", w.url, lease)],
  ]);
  const load = startLoad(w.cookies, (i) => (i % 2 ? web2.base : web1.base));
  const until = async <T>(what: string, fn: () => Promise<T | null | undefined>, ms: number): Promise<T | null> => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const v = await fn();
      if (v) return v;
      await sleep(100);
    }
    log(`${S}: timed out waiting for ${what}`);
    return null;
  };
  try {
    const alive = await until(
      "both trainers' heartbeats",
      async () => ((await w.db.trainerHeartbeat.count({ where: { workerId: { in: [...trainers.keys()] } } })) === 2 ? true : null),
      60_000,
    );
    check(S, "both trainers are up", !!alive);
    const { round } = await triggerRound({ db: w.db, triggeredBy: "admin", force: true });
    const running = await until(
      "the round to run",
      () => w.db.trainingRound.findFirst({ where: { id: round.id, status: "RUNNING", workerId: { not: null } } }),
      60_000,
    );
    const runningNow = await w.db.trainingRound.count({ where: { status: "RUNNING" } });
    check(S, "a round runs on exactly one trainer", !!running && runningNow === 1, { workerId: running?.workerId });
    if (!running?.workerId || !trainers.has(running.workerId)) return;
    const victim = running.workerId;
    const survivor = [...trainers.keys()].find((k) => k !== victim)!;
    await kill9(trainers.get(victim)!);
    const killedAt = Date.now();
    const failed = await until(
      "the round to fail",
      () => w.db.trainingRound.findFirst({ where: { id: round.id, status: "FAILED" } }),
      (lease + 20) * 1000,
    );
    const failMs = failed ? Date.now() - killedAt : null;
    check(S, "the killed trainer's round fails within its lease", !!failed && failMs! <= (lease + 3) * 1000, {
      ms: failMs,
      leaseSeconds: lease,
    });
    const { round: next } = await triggerRound({ db: w.db, triggeredBy: "admin", force: true });
    const taken = await until(
      "the next round to start",
      () => w.db.trainingRound.findFirst({ where: { id: next.id, workerId: { not: null } } }),
      60_000,
    );
    check(S, "the other trainer runs the next round", taken?.workerId === survivor, { workerId: taken?.workerId });

    // a promotion reaches both web servers (their sampler's serving version) within 2 s
    const alt = await registerTinyHouse(w.db, { seed: 11, name: "fault-alt", status: "CANDIDATE" });
    const promotedAt = Date.now();
    await promoteVersion({ db: w.db, versionId: alt.id });
    const serving = async (web: Web) =>
      ((await (await fetch(`${web.base}/api/health`)).json()) as { parts?: { sampler?: { serving?: string } } }).parts?.sampler?.serving;
    const reached = await Promise.all(
      [web1, web2].map((web) =>
        until("the promotion", async () => ((await serving(web)) === "fault-alt" ? Date.now() - promotedAt : null), 10_000),
      ),
    );
    check(
      S,
      "a promotion reaches both web servers within 2 s",
      reached.every((ms) => ms !== null && ms <= 2000),
      { ms: reached },
    );
  } finally {
    await load.stop();
    for (const t of trainers.values()) await kill9(t);
    await stopProcessGroup(web2.child);
  }
  await verifyAcks(S, w.db, load.acks);
}

async function main() {
  const started = Date.now();
  work = await mkdtemp(path.join(os.tmpdir(), "dpo-fault-"));
  await chmod(work, 0o755); // as root, PostgreSQL runs as the postgres user, which must reach it
  log(`private PostgreSQL and logs in ${work}`);
  const w = await createWorld(await freePort());
  let web: Web | undefined;
  try {
    if (runs(1)) web = await killWebServer(w);
    web ??= await startWeb("web1", w.url);
    if (runs(2)) await restartPostgres(w, web);
    if (runs(3)) await twoAndTwo(w, web);
  } finally {
    for (const c of [...children]) await stopProcessGroup(c);
    await w.db.$disconnect().catch(() => {});
    await w.pg.stop().catch(() => {});
  }
  process.stdout.write(
    `${JSON.stringify({ fault: "summary", failures, seconds: Math.round((Date.now() - started) / 1000), loadavg: os.loadavg()[0] })}\n`,
  );
  if (failures === 0) await rm(work, { recursive: true, force: true });
  else log(`logs kept in ${work}`);
}

main().then(
  () => process.exit(failures ? 1 : 0),
  async (err: unknown) => {
    log(`fault run failed: ${(err as Error).stack ?? err}`);
    for (const c of [...children]) await stopProcessGroup(c).catch(() => {});
    process.exit(1);
  },
);
