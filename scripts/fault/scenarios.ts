// The three fault scenarios (scripts/fault.ts says what each shows) and the world they share: a
// private PostgreSQL with the tiny house model, a prompt pool and signed-in labelers.
import path from "node:path";
import { stopProcessGroup } from "../../src/devtools/processes.ts";
import { createSession, SESSION_COOKIE } from "../../src/server/auth/session.ts";
import { createPrismaClient, type PrismaClient } from "../../src/server/db/client.ts";
import { type EmbeddedDatabase, startEmbeddedDatabase } from "../../src/server/db/embedded.ts";
import { applyMigrations } from "../../src/server/db/migrate.ts";
import { DEFAULT_SETTINGS } from "../../src/server/seed.ts";
import { triggerRound } from "../../src/server/services/rounds/lifecycle.ts";
import { promoteVersion } from "../../src/server/services/versions/promote.ts";
import { fastSettings, registerTinyHouse, seedVotes } from "../../test/loop/fixtures.ts";
import { healthStatus, startLoad, trpc, verifyAcks } from "./arena-load.ts";
import { Fleet, kill9, type Web } from "./processes.ts";
import { check, log, sleep, waitFor } from "./report.ts";

const LABELERS = 16;

export interface World {
  /** the run's directory: PostgreSQL's data, logs, checkpoints */
  work: string;
  fleet: Fleet;
  pg: EmbeddedDatabase;
  pgPort: number;
  db: PrismaClient;
  url: string;
  cookies: string[];
  labelerIds: string[];
  v0: { id: number; name: string };
}

export async function createWorld(work: string, pgPort: number): Promise<World> {
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
  return { work, fleet: new Fleet(work, url), pg, pgPort, db, url, cookies, labelerIds, v0 };
}

export async function killWebServer(w: World) {
  const S = "kill -9 web server";
  let web = await w.fleet.startWeb("web1");
  const load = startLoad(w.cookies, () => web.base);
  // The first battle starts the web's sampler (threads, model): kill only once votes flow.
  await waitFor(() => load.acks.length >= LABELERS, 120_000);
  await sleep(3000);
  const before = load.acks.length;
  log(`${S}: ${before} votes acknowledged; kill -9`);
  await kill9(web.child);
  const killedAt = Date.now();
  web = await w.fleet.startWeb("web1", web.port);
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

export async function restartPostgres(w: World, web: Web) {
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
  w.pg = await startEmbeddedDatabase({ dataDir: path.join(w.work, "pg"), port: w.pgPort, database: "dpo_fault" });
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

export async function twoAndTwo(w: World, web1: Web) {
  const S = "two web servers, two trainers";
  const web2 = await w.fleet.startWeb("web2");
  // sessions live in PostgreSQL: one cookie works on both
  const onBoth = await Promise.all(
    [web1, web2].map((web) => trpc<{ votesTotal: number }>(web.base, w.cookies[0]!, "arena.myStats", {}, "query")),
  );
  check(S, "a session works on both web servers", onBoth[0]!.votesTotal === onBoth[1]!.votesTotal, { votesTotal: onBoth[0]!.votesTotal });

  const lease = 8;
  await fastSettings(w.db, { dpo: { epochs: 20 } });
  await seedVotes(w.db, w.v0.id, 32, { offset: 10_000 });
  const trainers = new Map([
    ["fault-t1", w.fleet.startTrainer("fault-t1", lease)],
    ["fault-t2", w.fleet.startTrainer("fault-t2", lease)],
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
