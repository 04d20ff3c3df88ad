// `npm run test:e2e`: build if needed, a fresh database (migrated + seeded with a known admin
// password), `next start` on a free port and the trainer worker (so rounds run while the
// browser watches), Playwright in Debian's Chromium, then tear down. The exit code is
// Playwright's.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { adminQuery, dropDatabase, freePort, stopProcessGroup, waitForHealthy, withDatabase } from "../src/devtools/processes.ts";
import { createPrismaClient } from "../src/server/db/client.ts";
import { applyMigrations } from "../src/server/db/migrate.ts";
import { seed } from "../src/server/seed.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const NEXT_BIN = path.join(ROOT, "node_modules/next/dist/bin/next");
const TRAINER_ENTRY = path.join(ROOT, "workers/trainer.ts");
const PLAYWRIGHT_BIN = path.join(ROOT, "node_modules/@playwright/test/cli.js");
const ADMIN_USERNAME = "admin";
const ADMIN_PASSWORD = `e2e-${randomBytes(9).toString("base64url")}`;

function say(msg: string) {
  process.stdout.write(`[e2e] ${msg}\n`);
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: "inherit" });
    child.on("error", reject);
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

/** Newest modification time of the files that go into the web build. */
function newestSourceMtime(): number {
  let newest = 0;
  const visit = (p: string) => {
    const stat = statSync(p);
    if (stat.isDirectory()) {
      for (const entry of readdirSync(p)) if (entry !== "generated" && !entry.startsWith(".")) visit(path.join(p, entry));
    } else if (/\.(tsx?|css|js|mjs|json)$/.test(p)) newest = Math.max(newest, stat.mtimeMs);
  };
  for (const p of ["src", "next.config.js", "postcss.config.mjs", "package.json"]) {
    if (existsSync(path.join(ROOT, p))) visit(path.join(ROOT, p));
  }
  return newest;
}

async function main(): Promise<number> {
  const buildId = path.join(ROOT, ".next/BUILD_ID");
  // A build older than the sources would test yesterday's app; rebuilding costs a minute or two.
  const stale = existsSync(buildId) && statSync(buildId).mtimeMs < newestSourceMtime();
  if (!existsSync(buildId) || stale) {
    say(stale ? "the production build is older than the sources; running next build" : "no production build found; running next build");
    const code = await run(process.execPath, [NEXT_BIN, "build"]);
    if (code !== 0) throw new Error(`next build failed with exit code ${code}`);
  }

  const serverUrl = process.env.DATABASE_URL || "postgresql://postgres@127.0.0.1:5432/postgres";
  const dbName = `dpo_e2e_${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
  const databaseUrl = withDatabase(serverUrl, dbName);
  let server: ChildProcess | undefined;
  let trainer: ChildProcess | undefined;
  // Checkpoints the trainer writes in this run: shared by web (promote, serve) and trainer, gone afterwards.
  const checkpointDir = await mkdtemp(path.join(tmpdir(), "dpo-e2e-checkpoints-"));

  await adminQuery(serverUrl, `CREATE DATABASE "${dbName}"`);
  say(`created database ${dbName}`);
  try {
    await applyMigrations({ databaseUrl });
    const db = createPrismaClient(databaseUrl);
    try {
      const result = await seed(db, { adminUsername: ADMIN_USERNAME, adminPassword: ADMIN_PASSWORD, checkpointDir });
      say(`seeded: admin ${result.admin.username}, ${result.promptsAdded} prompts`);
    } finally {
      await db.$disconnect();
    }

    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}`;
    const appEnv: NodeJS.ProcessEnv = {
      ...process.env,
      DATABASE_URL: databaseUrl,
      NODE_ENV: "production",
      PORT: String(port),
      TRAINER_ENABLED: "false",
      CHECKPOINT_DIR: checkpointDir,
      LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
      // encrypts external contestants' API keys (e2e/versus-contestants.spec.ts registers one with a key)
      CONTESTANT_SECRET_KEY: process.env.CONTESTANT_SECRET_KEY ?? randomBytes(32).toString("hex"),
    };
    server = spawn(process.execPath, [NEXT_BIN, "start", "-p", String(port), "-H", "127.0.0.1"], {
      cwd: ROOT,
      env: appEnv,
      stdio: "inherit",
      detached: true,
    });
    // The trainer, as `npm start` runs it (same database and checkpoint store), in its own
    // process group. A short lease notices a cancelled round within seconds; a short tick sends
    // a triggered round to the queue within half a second.
    trainer = spawn(
      process.execPath,
      ["--import", "tsx", TRAINER_ENTRY, "--lease-seconds", "6", "--tick-ms", "500", "--worker-id", "e2e-trainer"],
      {
        cwd: ROOT,
        env: { ...appEnv, TRAINER_ENABLED: "true" },
        stdio: "inherit",
        detached: true,
      },
    );
    const trainerExit = new Promise<string>((resolve) => trainer!.once("exit", (code, signal) => resolve(`code ${code ?? signal}`)));
    await Promise.race([
      waitForHealthy(baseUrl, server, 60_000, "next start"),
      trainerExit.then((how) => Promise.reject(new Error(`the trainer exited early (${how}); see its output`))),
    ]);
    say(`app is up at ${baseUrl} with a trainer; running Playwright`);

    const code = await run(process.execPath, [PLAYWRIGHT_BIN, "test", "-c", "e2e/playwright.config.ts", ...process.argv.slice(2)], {
      ...process.env,
      E2E_BASE_URL: baseUrl,
      E2E_DATABASE_URL: databaseUrl,
      E2E_ADMIN_USERNAME: ADMIN_USERNAME,
      E2E_ADMIN_PASSWORD: ADMIN_PASSWORD,
    });
    // A failed rounds spec is easier to read knowing the trainer was gone.
    if (trainer.exitCode !== null || trainer.signalCode !== null)
      say(`note: the trainer exited during the run (${trainer.exitCode ?? trainer.signalCode})`);
    return code;
  } finally {
    await Promise.all([server, trainer].map((child) => (child ? stopProcessGroup(child) : undefined)));
    await rm(checkpointDir, { recursive: true, force: true });
    await dropDatabase(serverUrl, dbName).catch((err: unknown) =>
      say(`could not drop ${dbName}: ${err instanceof Error ? err.message : String(err)}`),
    );
    say("torn down");
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`[e2e] ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
