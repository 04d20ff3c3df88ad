// `npm start`: one command from a fresh clone to a running arena.
// database (DATABASE_URL, or an embedded PostgreSQL under .data/) → migrations → seed →
// production build if missing → `next start` + trainer worker, supervised together: a crashed
// web server, trainer or embedded PostgreSQL is restarted with backoff; Ctrl-C stops everything.
import { existsSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { createPrismaClient } from "../src/server/db/client.ts";
import { type EmbeddedDatabase, startEmbeddedDatabase } from "../src/server/db/embedded.ts";
import { applyMigrations, ensureDatabaseExists, MigrationError } from "../src/server/db/migrate.ts";
import { EnvError, getEnv, listenHost } from "../src/server/env.ts";
import { log as rootLog } from "../src/server/log.ts";
import { type SeedResult, seed } from "../src/server/seed.ts";
import { type Supervised, spawnSupervised, superviseChild } from "./supervise.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const BIN = path.join(ROOT, "node_modules", ".bin");
const STOP_GRACE_MS = 10_000;
const log = rootLog.child({ component: "start" });

let embedded: EmbeddedDatabase | undefined;
const children: Supervised[] = [];
let shuttingDown = false;
// A generated admin password exists only in memory until shown; never lose it on an early stop.
let unshownAdminPassword: { username: string; password: string } | undefined;

const run = (name: string, command: string, args: string[], env: NodeJS.ProcessEnv): Supervised =>
  spawnSupervised({ name, command, args, env, cwd: ROOT, log });

function superviseRestarts(first: Supervised): void {
  superviseChild(first, {
    log,
    isStopping: () => shuttingDown,
    onStopRequested: (name) => void shutdown(`${name} stopped`, 0),
    onGiveUp: (name, code) => void shutdown(`${name} keeps crashing`, code),
    onRestarted: (old, fresh) => {
      children[children.indexOf(old)] = fresh;
    },
  });
}

/**
 * A server that exits is restarted by startEmbeddedDatabase (restart: true); this also catches one
 * that runs but stops answering, and says so loudly.
 */
function watchEmbeddedDatabase(databaseUrl: string): void {
  let failures = 0;
  const timer = setInterval(() => {
    if (shuttingDown) return clearInterval(timer);
    const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 3000 });
    client
      .connect()
      .then(() => client.query("SELECT 1"))
      .then(
        () => {
          if (failures >= 3) log.info("embedded PostgreSQL answers again");
          failures = 0;
        },
        (err: unknown) => {
          failures += 1;
          if (failures === 3)
            log.error("embedded PostgreSQL is not answering; the arena answers 503 until it does (see .data/pg for its log)", { err });
        },
      )
      .finally(() => void client.end().catch(() => {}));
  }, 5000);
  timer.unref();
}

function signalChild(s: Supervised, signal: NodeJS.Signals): void {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return;
  s.child.kill(signal);
}

async function stopChild(s: Supervised): Promise<void> {
  signalChild(s, "SIGTERM");
  const timer = setTimeout(() => {
    log.warn(`${s.name} did not stop within ${STOP_GRACE_MS / 1000}s; killing it`);
    signalChild(s, "SIGKILL");
  }, STOP_GRACE_MS);
  await s.exited;
  clearTimeout(timer);
}

async function shutdown(reason: string, exitCode: number): Promise<never> {
  if (!shuttingDown) {
    shuttingDown = true;
    log.info("stopping", { reason });
    if (unshownAdminPassword) {
      process.stdout.write(`\n  admin ${unshownAdminPassword.username} password (shown only once): ${unshownAdminPassword.password}\n\n`);
      unshownAdminPassword = undefined;
    }
    await Promise.all(children.map(stopChild));
    if (embedded) {
      await embedded.stop().catch((err: unknown) => log.error("embedded PostgreSQL did not stop cleanly", { err }));
      log.info("embedded PostgreSQL stopped");
    }
    log.info("stopped", { exitCode });
    process.exit(exitCode);
  }
  return new Promise<never>(() => {});
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (shuttingDown) return;
    void shutdown(signal, 0);
  });
}

async function waitForHttp(url: string, timeoutMs: number, stillRunning: () => boolean): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && stillRunning() && !shuttingDown) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
      await res.body?.cancel();
      return true;
    } catch {
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  return false;
}

function banner(port: number, databaseLabel: string, seeded: SeedResult): void {
  const lines = [
    "",
    "  dpo-arena is running",
    `  → open      http://localhost:${port}`,
    `  → database  ${databaseLabel}`,
    `  → admin     ${seeded.admin.username}`,
  ];
  if (seeded.admin.generatedPassword) {
    lines.push(`  → password  ${seeded.admin.generatedPassword}   (generated now and shown only once: save it)`);
    unshownAdminPassword = undefined;
  }
  if (!seeded.houseModel.registered && seeded.houseModel.reason !== "policy versions already exist") {
    lines.push(`  ! no policy is served yet: ${seeded.houseModel.reason}`);
  }
  lines.push("  Ctrl-C stops everything.", "");
  process.stdout.write(`${lines.join("\n")}\n`);
}

async function main(): Promise<void> {
  const env = getEnv();

  let databaseUrl = env.DATABASE_URL;
  let databaseLabel: string;
  if (databaseUrl) {
    const u = new URL(databaseUrl);
    databaseLabel = `${u.hostname}:${u.port || 5432}${u.pathname} (DATABASE_URL)`;
    if (await ensureDatabaseExists(databaseUrl)) log.info("created database", { database: u.pathname.slice(1) });
  } else {
    embedded = await startEmbeddedDatabase({
      dataDir: path.join(ROOT, ".data"),
      port: env.EMBEDDED_PG_PORT,
      log: (msg, fields) => log.info(msg, fields),
      // a crashed or killed server comes back by itself (backoff 1 s … 30 s, said in the log)
      restart: true,
      logError: (msg, fields) => log.error(msg, fields),
    });
    databaseUrl = embedded.url;
    databaseLabel = `embedded PostgreSQL on 127.0.0.1:${env.EMBEDDED_PG_PORT}, data in .data/pg`;
  }
  if (shuttingDown) return;

  await applyMigrations({ databaseUrl, log: (msg, fields) => log.info(msg, fields) });
  const db = createPrismaClient(databaseUrl);
  let seeded: SeedResult;
  try {
    seeded = await seed(db, { log: (msg, fields) => log.info(msg, fields) });
  } finally {
    await db.$disconnect();
  }
  if (seeded.admin.generatedPassword) {
    unshownAdminPassword = { username: seeded.admin.username, password: seeded.admin.generatedPassword };
  }
  if (shuttingDown) return;

  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    PORT: String(env.PORT),
    // the health check then reports the embedded server as a part of its own
    DATABASE_EMBEDDED: embedded ? "true" : "false",
  };

  if (!existsSync(path.join(ROOT, ".next", "BUILD_ID"))) {
    log.info("no production build found; running `next build` (first start only, takes a few minutes)");
    const build = run("next build", path.join(BIN, "next"), ["build"], { ...childEnv, NODE_ENV: "production" });
    children.push(build);
    const code = await build.exited;
    children.splice(children.indexOf(build), 1);
    if (shuttingDown) return;
    if (code !== 0) {
      log.error("`next build` failed; fix the build errors above and start again", { exitCode: code });
      await shutdown("build failed", 1);
    }
  }

  const host = listenHost(env);
  const web = run("web", path.join(BIN, "next"), ["start", "-p", String(env.PORT), ...(host ? ["-H", host] : [])], {
    ...childEnv,
    NODE_ENV: "production",
  });
  children.push(web);
  const trainerEntry = path.join(ROOT, "workers", "trainer.ts");
  if (env.TRAINER_ENABLED && existsSync(trainerEntry)) {
    // `node --import tsx` rather than the tsx CLI: no extra signal-relaying parent process.
    children.push(run("trainer", process.execPath, ["--import", "tsx", trainerEntry], childEnv));
  } else {
    log.info("trainer not started", { reason: env.TRAINER_ENABLED ? `${trainerEntry} not found` : "TRAINER_ENABLED=false" });
  }

  for (const s of [...children]) superviseRestarts(s);
  if (embedded) watchEmbeddedDatabase(databaseUrl);

  const probeHost = host && host !== "0.0.0.0" && !host.includes(":") ? host : "127.0.0.1";
  const up = await waitForHttp(`http://${probeHost}:${env.PORT}/`, 120_000, () => web.child.exitCode === null);
  if (shuttingDown) return;
  if (!up) log.warn("web server did not answer within 120s; it may still be starting", { port: env.PORT });
  banner(env.PORT, databaseLabel, seeded);
}

main().catch(async (err: unknown) => {
  if (err instanceof EnvError || err instanceof MigrationError) {
    process.stderr.write(`${err.message}\n`);
  } else {
    log.error("start failed", { err });
  }
  await shutdown("start failed", 1);
});
