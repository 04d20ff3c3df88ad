// The sampling service web processes use: `(await getSampler()).generate({...})`.
// New completions use the SERVING version the registry holds unless a version is named (e.g.
// an earlier version in a versus battle); each result says which version produced it.
import os from "node:os";
import path from "node:path";
import { createPrismaClient, type PrismaClient } from "../db/client.ts";
import { getEnv, requireDatabaseUrl } from "../env.ts";
import { createLogger, type Logger } from "../log.ts";
import type { VersionRef } from "../policy/load.ts";
import { PolicyRegistry } from "../policy/registry.ts";
import {
  type GeneratedCompletion,
  type SamplePriority,
  SamplerBusyError,
  SamplerPool,
  type SamplingParams,
  type TokenEvent,
} from "./pool.ts";

export type { GeneratedCompletion, SamplePriority, SamplingParams, TokenEvent };
export { SamplerBusyError };

export interface GenerateOptions extends SamplingParams {
  /** omit for the serving version */
  versionId?: number;
  onToken?: (e: TokenEvent) => void;
  signal?: AbortSignal;
  /** "background" yields to labelers' battles (src/server/sampler/pool.ts); default "labeler" */
  priority?: SamplePriority;
}

export interface GenerateResult {
  versionId: number;
  versionName: string;
  completions: GeneratedCompletion[];
}

export class SamplerUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SamplerUnavailableError";
  }
}

/** How many non-serving versions (versus battles) stay loaded besides the serving one. */
const EXTRA_VERSIONS = 2;

export class Sampler {
  /** non-serving versions loaded for versus battles, least recently loaded first, no duplicates */
  private extra: number[] = [];
  private extraLoads = new Map<number, Promise<void>>();

  constructor(
    readonly pool: SamplerPool,
    readonly registry: PolicyRegistry,
    private readonly db: PrismaClient,
  ) {}

  async generate(opts: GenerateOptions): Promise<GenerateResult> {
    const { versionId, onToken, signal, ...params } = opts;
    if (!Number.isInteger(params.n) || params.n < 1 || params.n > 16)
      throw new RangeError(`n must be an integer in [1, 16], got ${params.n}`);
    for (let attempt = 0; ; attempt++) {
      const version = versionId === undefined ? this.registry.current() : await this.ensureLoaded(versionId);
      if (!version)
        throw new SamplerUnavailableError(
          "no policy version is loaded yet (none is SERVING, or its checkpoint failed to load; see the logs)",
        );
      try {
        const completions = await this.pool.generate({ ...params, versionId: version.id, onToken, signal });
        return { versionId: version.id, versionName: version.name, completions };
      } catch (err) {
        // A hot swap retired the chosen version between choosing it and starting (the serving
        // one, or an earlier one that was serving a moment ago): choose again, which uses the
        // new serving version or reloads the named one.
        if (attempt === 0 && /is not loaded/.test((err as Error).message)) continue;
        throw err;
      }
    }
  }

  private async ensureLoaded(versionId: number): Promise<VersionRef> {
    const serving = this.registry.current();
    if (serving?.id === versionId) return serving;
    const v = await this.db.policyVersion.findUnique({
      where: { id: versionId },
      select: { id: true, name: true, checkpointUri: true, checkpointSha256: true },
    });
    if (!v) throw new RangeError(`policy version ${versionId} does not exist`);
    if (!this.pool.loadedVersionIds().includes(v.id)) {
      // Concurrent battles asking for the same earlier version share one load; pushing it once
      // per caller used to fill the list with duplicates and evict the version being loaded.
      let load = this.extraLoads.get(v.id);
      if (!load) {
        load = this.pool
          .load(v)
          .then(() => {
            this.extra = this.extra.filter((id) => id !== v.id);
            this.extra.push(v.id);
            while (this.extra.length > EXTRA_VERSIONS) {
              const evict = this.extra.shift()!;
              if (evict !== this.registry.current()?.id) this.pool.retire(evict);
            }
          })
          .finally(() => this.extraLoads.delete(v.id));
        this.extraLoads.set(v.id, load);
      }
      await load;
    }
    return v;
  }

  async close(): Promise<void> {
    await this.registry.stop();
    await this.pool.close();
  }
}

export interface CreateSamplerOptions {
  databaseUrl: string;
  checkpointDir: string;
  backend?: "auto" | "tensorflow" | "wasm" | "cpu";
  threads?: number;
  /** nice value of the sampler threads (see SAMPLER_NICE) */
  nice?: number;
  pollIntervalMs?: number;
  log?: Logger;
}

export async function createSampler(opts: CreateSamplerOptions): Promise<Sampler> {
  const log = opts.log ?? createLogger({ component: "sampler" });
  // Leave a core for the event loop (and a trainer) on small machines.
  const threads = opts.threads ?? Math.max(1, Math.min(2, os.availableParallelism() - 1));
  const pool = new SamplerPool({ size: threads, nice: opts.nice, backend: opts.backend ?? "auto", checkpointRoot: opts.checkpointDir });
  await pool.ready();
  const registry = new PolicyRegistry({ databaseUrl: opts.databaseUrl, loader: pool, pollIntervalMs: opts.pollIntervalMs, log });
  await registry.start();
  return new Sampler(pool, registry, createPrismaClient(opts.databaseUrl));
}

const globalForSampler = globalThis as unknown as {
  __dpoArenaSampler?: Promise<Sampler>;
  __dpoArenaSamplerState?: { state: "starting" | "ready"; sampler?: Sampler } | { state: "failed"; error: string; at: Date };
};

export type SamplerStatus =
  | { ok: true; state: "idle"; note: string }
  | { ok: true; state: "starting" }
  | { ok: boolean; state: "ready"; threads: number; threadsAlive: number; pending: number; maxPending: number; serving: string | null }
  | { ok: false; state: "failed"; error: string; at: string };

/** The process's sampler as the health check sees it; never starts one (that loads models). */
export function samplerStatus(): SamplerStatus {
  const s = globalForSampler.__dpoArenaSamplerState;
  if (!s) return { ok: true, state: "idle", note: "starts with the first battle of this process" };
  if (s.state === "failed") return { ok: false, state: "failed", error: s.error, at: s.at.toISOString() };
  if (s.state === "starting" || !s.sampler) return { ok: true, state: "starting" };
  const stats = s.sampler.pool.stats();
  const serving = s.sampler.registry.current();
  return { ok: stats.threadsAlive > 0 && serving !== null, state: "ready", ...stats, serving: serving?.name ?? null };
}

/** The process's sampler, created on first use (kept on globalThis across Next.js hot reloads). */
export function getSampler(): Promise<Sampler> {
  if (!globalForSampler.__dpoArenaSampler) {
    const env = getEnv();
    const p = createSampler({
      databaseUrl: requireDatabaseUrl(),
      checkpointDir: path.resolve(env.CHECKPOINT_DIR),
      backend: env.TF_BACKEND,
      threads: env.SAMPLER_THREADS,
      nice: env.SAMPLER_NICE,
    });
    globalForSampler.__dpoArenaSamplerState = { state: "starting" };
    p.then(
      (sampler) => {
        globalForSampler.__dpoArenaSamplerState = { state: "ready", sampler };
      },
      (err: unknown) => {
        globalForSampler.__dpoArenaSampler = undefined;
        const error = err instanceof Error ? err.message.split("\n")[0]!.slice(0, 200) : String(err);
        globalForSampler.__dpoArenaSamplerState = { state: "failed", error, at: new Date() };
      },
    );
    globalForSampler.__dpoArenaSampler = p;
  }
  return globalForSampler.__dpoArenaSampler;
}
