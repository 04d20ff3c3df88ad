// Trainer worker entry point: `npm run worker`, also spawned by `npm start`.
// Options (for tests and operators): --lease-seconds N, --tick-ms N, --worker-id ID (see --help).
import path from "node:path";
import { type CommandSpec, parseOrExit } from "../src/cli/args.ts";
import { initBackend } from "../src/lm/index.ts";
import { getEnv, requireDatabaseUrl } from "../src/server/env.ts";
import { createLogger } from "../src/server/log.ts";
import { startTrainer } from "./trainer-loop.ts";

const SPEC = {
  command: "npm run worker --",
  description: "The trainer: starts DPO rounds when enough votes exist, runs them and promotes what passes its gates.",
  options: {
    "lease-seconds": {
      type: "number",
      above: 0,
      help: "how long a round's lease lasts without a heartbeat before another trainer may fail it (default 60)",
    },
    "tick-ms": {
      type: "number",
      above: 0,
      help: "how often the trainer reaps expired leases and checks whether a round should start (default 2000)",
    },
    "worker-id": { type: "string", value: "ID", help: "this trainer's name in rounds and logs" },
  },
} as const satisfies CommandSpec;

async function main(): Promise<void> {
  const { values } = parseOrExit(SPEC);
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
    leaseSeconds: values["lease-seconds"],
    tickMs: values["tick-ms"],
    workerId: values["worker-id"],
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
