// Trainer worker entry point: `npm run worker`, also spawned by `npm start`.
// Options (for tests and operators): --lease-seconds N, --tick-ms N, --worker-id ID.
import path from "node:path";
import { initBackend } from "../src/lm/index.ts";
import { getEnv, requireDatabaseUrl } from "../src/server/env.ts";
import { createLogger } from "../src/server/log.ts";
import { startTrainer } from "./trainer-loop.ts";

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function positive(name: string): number | undefined {
  const raw = flag(name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!(n > 0)) throw new Error(`--${name} must be a positive number, got "${raw}"`);
  return n;
}

async function main(): Promise<void> {
  const log = createLogger({ component: "trainer" });
  const env = getEnv();
  if (!env.TRAINER_ENABLED) {
    log.info("TRAINER_ENABLED is false; the trainer exits without training");
    return;
  }
  const databaseUrl = requireDatabaseUrl();
  const backend = await initBackend(env.TF_BACKEND);
  const trainer = await startTrainer({
    databaseUrl,
    checkpointDir: path.resolve(env.CHECKPOINT_DIR),
    leaseSeconds: positive("lease-seconds"),
    tickMs: positive("tick-ms"),
    workerId: flag("worker-id"),
    log,
  });
  log.info("trainer ready", { backend, checkpointDir: env.CHECKPOINT_DIR });
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info("trainer stopping", { signal });
      resolve();
    };
    process.on("SIGINT", () => stop("SIGINT"));
    process.on("SIGTERM", () => stop("SIGTERM"));
  });
  await trainer.stop();
}

main().then(
  () => process.exit(0),
  (err) => {
    createLogger({ component: "trainer" }).error("trainer failed", { error: err });
    process.exit(1);
  },
);
