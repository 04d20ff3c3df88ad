// The web process's sampler for battles: the loop's Sampler (worker threads, policy registry),
// started with a thread entry that loads the TypeScript thread file on every Node version.
import os from "node:os";
import path from "node:path";
import { getEnv, requireDatabaseUrl } from "../../env.ts";
import { createLogger } from "../../log.ts";
import { createPrismaClient } from "../../db/client.ts";
import { PolicyRegistry } from "../../policy/registry.ts";
import { Sampler } from "../../sampler/index.ts";
import { SamplerPool } from "../../sampler/pool.ts";

/** Next.js bundles server code, so the entry is found from the working directory (the repo). */
export const BATTLE_THREAD_FILE = path.resolve(process.cwd(), "src/server/services/battles/sampler-thread.mjs");

export async function createBattleSampler(opts: { databaseUrl: string; checkpointDir: string; backend?: "auto" | "tensorflow" | "wasm" | "cpu"; threads?: number; pollIntervalMs?: number }): Promise<Sampler> {
  const log = createLogger({ component: "sampler" });
  // Leave a core for the event loop (and a trainer) on small machines.
  const threads = opts.threads ?? Math.max(1, Math.min(2, os.availableParallelism() - 1));
  const pool = new SamplerPool({ size: threads, backend: opts.backend ?? "auto", checkpointRoot: opts.checkpointDir, threadFile: BATTLE_THREAD_FILE });
  await pool.ready();
  const registry = new PolicyRegistry({ databaseUrl: opts.databaseUrl, loader: pool, pollIntervalMs: opts.pollIntervalMs, log });
  await registry.start();
  return new Sampler(pool, registry, createPrismaClient(opts.databaseUrl), log);
}

const globalForSampler = globalThis as unknown as { __dpoArenaBattleSampler?: Promise<Sampler> };

/** The process's battle sampler, created on first use; a failed start is retried on the next call. */
export function getBattleSampler(): Promise<Sampler> {
  if (!globalForSampler.__dpoArenaBattleSampler) {
    const env = getEnv();
    const p = createBattleSampler({ databaseUrl: requireDatabaseUrl(), checkpointDir: path.resolve(env.CHECKPOINT_DIR), backend: env.TF_BACKEND });
    p.catch(() => {
      globalForSampler.__dpoArenaBattleSampler = undefined;
    });
    globalForSampler.__dpoArenaBattleSampler = p;
  }
  return globalForSampler.__dpoArenaBattleSampler;
}
