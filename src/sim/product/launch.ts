// Starts a private copy of the product for one sim run, the way `npm start` does it (and with
// its functions): a fresh database on the local Postgres (or DATABASE_URL's server), migrations,
// the seed with a known admin password, then the web server and the trainer worker as child
// processes. Everything it starts it stops, and the database is dropped unless kept.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { dropDatabase, freePort, stopProcessGroup, waitForHealthy, withDatabase } from "../../devtools/processes.ts";
import { createPrismaClient, type PrismaClient } from "../../server/db/client.ts";
import { applyMigrations, ensureDatabaseExists } from "../../server/db/migrate.ts";
import { seed } from "../../server/seed.ts";

export const ROOT = path.resolve(import.meta.dirname, "../../..");
const NEXT_BIN = path.join(ROOT, "node_modules/next/dist/bin/next");

export type WebMode = "next" | "host";

export interface LaunchOptions {
  /** run directory: checkpoints and child logs go here */
  workDir: string;
  /** the server to create the database on; default DATABASE_URL or the local Postgres */
  serverUrl?: string;
  web?: WebMode;
  /** house model to register as v0; a copy is fine (pretraining may rewrite models/house) */
  houseModelDir?: string;
  /** called after migrations and the seed, before the web server starts (tests register a tiny v0 here) */
  prepare?: (db: PrismaClient) => Promise<void>;
  /** trainer poll interval (ms) */
  trainerTickMs?: number;
  tfBackend?: "auto" | "wasm" | "cpu";
  keepDatabase?: boolean;
  log?: (msg: string) => void;
}

export interface Product {
  baseUrl: string;
  databaseUrl: string;
  admin: { username: string; password: string };
  checkpointDir: string;
  db: PrismaClient;
  stop(): Promise<void>;
}

export async function launchProduct(opts: LaunchOptions): Promise<Product> {
  const log = opts.log ?? (() => {});
  const web = opts.web ?? "next";
  if (web === "next" && !existsSync(path.join(ROOT, ".next", "BUILD_ID"))) {
    throw new Error("no production build (.next/BUILD_ID): run `npm run build` first, or use --web host (the API without pages)");
  }
  const serverUrl = opts.serverUrl ?? process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
  const dbName = `dpo_sim_${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
  const databaseUrl = withDatabase(serverUrl, dbName);
  const checkpointDir = path.join(opts.workDir, "checkpoints");
  await mkdir(checkpointDir, { recursive: true });
  await ensureDatabaseExists(databaseUrl);
  log(`created database ${dbName}`);

  const children: ChildProcess[] = [];
  // The children run in their own process groups (so a terminal's Ctrl-C does not kill them
  // before the sim has measured); if the sim exits anyway, they must not outlive it.
  const killOnExit = () => {
    for (const c of children) {
      if (c.pid === undefined || c.exitCode !== null) continue;
      try {
        process.kill(-c.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  };
  process.on("exit", killOnExit);
  const db = createPrismaClient(databaseUrl);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.off("exit", killOnExit);
    await Promise.all(children.map(stopProcessGroup));
    await db.$disconnect().catch(() => {});
    if (!opts.keepDatabase)
      await dropDatabase(serverUrl, dbName).catch((err: unknown) => log(`could not drop ${dbName}: ${(err as Error).message}`));
  };

  try {
    await applyMigrations({ databaseUrl });
    const admin = { username: "admin", password: `sim-${randomBytes(12).toString("base64url")}` };
    await seed(db, { adminUsername: admin.username, adminPassword: admin.password, houseModelDir: opts.houseModelDir });
    await opts.prepare?.(db);

    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}`;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      CHECKPOINT_DIR: checkpointDir,
      TF_BACKEND: opts.tfBackend ?? process.env.TF_BACKEND ?? "auto",
      LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
      TRAINER_ENABLED: "true",
    };
    const { openSync } = await import("node:fs");
    const spawnLogged = (name: string, args: string[], childEnv: NodeJS.ProcessEnv) => {
      const out = openSync(path.join(opts.workDir, `${name}.log`), "a");
      const child = spawn(process.execPath, args, { cwd: ROOT, env: childEnv, stdio: ["ignore", out, out], detached: true });
      children.push(child);
      return child;
    };
    const webChild =
      web === "next"
        ? spawnLogged("web", [NEXT_BIN, "start", "-p", String(port), "-H", "127.0.0.1"], { ...env, NODE_ENV: "production" })
        : spawnLogged("web", ["--import", "tsx", path.join(ROOT, "src/sim/product/host.ts")], { ...env, NODE_ENV: "production" });
    spawnLogged(
      "trainer",
      ["--import", "tsx", path.join(ROOT, "workers/trainer.ts"), "--tick-ms", String(opts.trainerTickMs ?? 1000)],
      env,
    );
    await waitForHealthy(baseUrl, webChild, 120_000);
    // A build older than the arena has no battle stream; fail now rather than in every labeler.
    const probe = await fetch(`${baseUrl}/api/battles/probe/stream`);
    await probe.body?.cancel();
    if (probe.status === 404) {
      throw new Error(
        "the web server has no /api/battles/<id>/stream route: the production build is older than the code; run `npm run build`, or use --web host",
      );
    }
    log(`product up at ${baseUrl} (${web === "next" ? "next start" : "API host"}), trainer running; logs in ${opts.workDir}`);
    return { baseUrl, databaseUrl, admin, checkpointDir, db, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
