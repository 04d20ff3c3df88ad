// A pool of sampler threads. Every thread holds every served version (models are small; a
// request can then go to whichever thread is least busy). Loading a version means loading it
// in all threads; it counts as loaded only when all succeeded, so a swap is all-or-nothing.
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { VersionRef } from "../policy/load.ts";
import type { PolicyLoader } from "../policy/registry.ts";
import type { FromThread, GeneratedCompletion, SamplingParams, ThreadMemory, TokenUpdate, ToThread } from "./protocol.ts";

export type { GeneratedCompletion, SamplingParams, ThreadMemory };
/** one sequence's new tokens and text change (see TokenUpdate in ./protocol.ts) */
export type TokenEvent = TokenUpdate;
/** "labeler": arena battles (the default); "background": API requests, which yield to them */
export type SamplePriority = "labeler" | "background";

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  onToken?: (e: TokenEvent) => void;
}

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  inFlight: number;
  pending: Map<number, Pending>;
  alive: boolean;
  wasReady: boolean;
}

export interface SamplerPoolOptions {
  size: number;
  backend: "auto" | "tensorflow" | "wasm" | "cpu";
  /** where relative checkpoint paths resolve (the directory store's root) */
  checkpointRoot: string;
  /** nice value for the sampler threads (0 = the process's); the event loop keeps priority */
  nice?: number;
  /** Next.js bundles server code, so the thread runs from source through tsx, found from cwd. */
  threadFile?: string;
  /** generate requests in flight (running or waiting) beyond which new ones are refused; default 32 per thread */
  maxPending?: number;
  /**
   * Weight bytes from which a thread stops letting the wasm backend keep packed copies of the
   * weights for few-row products (see thread.ts `avoidPackedCopies`); default 64 MB.
   */
  packedWeightsLimitBytes?: number;
}

class NotLoadedError extends Error {}

/** Too many samples are waiting: refuse at once rather than queue without bound. */
export class SamplerBusyError extends Error {
  constructor(pending: number) {
    super(`The sampler is busy (${pending} completions waiting); retry in a few seconds.`);
    this.name = "SamplerBusyError";
  }
}

/**
 * Worker threads on Node 20 do not inherit `--import tsx`, so each thread registers tsx's ESM
 * hooks itself before importing the TypeScript thread file (resolved from the project root).
 */
function bootstrap(threadFile: string): string {
  // Bare specifier: an eval'd worker resolves it from the working directory (the project root).
  return `import("tsx/esm/api")
  .then(({ register }) => { register(); return import(${JSON.stringify(pathToFileURL(threadFile).href)}); })
  .catch((err) => { console.error("sampler thread failed to start: " + (err && err.stack || err)); process.exit(1); });`;
}

export class SamplerPool implements PolicyLoader {
  private slots: Slot[] = [];
  private nextId = 1;
  /** versions every (current and future) thread must hold */
  private versions = new Map<number, VersionRef>();
  private closed = false;
  private pendingGenerates = 0;

  constructor(private readonly opts: SamplerPoolOptions) {
    if (!Number.isInteger(opts.size) || opts.size < 1) throw new Error(`sampler pool size must be a positive integer, got ${opts.size}`);
    for (let i = 0; i < opts.size; i++) this.slots.push(this.spawn());
  }

  get size(): number {
    return this.slots.length;
  }

  /** For the health check: threads running (a crashed one is replaced) and requests in flight or waiting. */
  stats(): { threads: number; threadsAlive: number; pending: number; maxPending: number } {
    return {
      threads: this.slots.length,
      threadsAlive: this.slots.filter((s) => s.alive && s.wasReady).length,
      pending: this.pendingGenerates,
      maxPending: this.opts.maxPending ?? 32 * this.opts.size,
    };
  }

  loadedVersionIds(): number[] {
    return [...this.versions.keys()];
  }

  async ready(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.ready));
  }

  /**
   * Loads a version in every thread, one thread after another: a load holds a tensor's bytes
   * several times over while it converts them (file buffer, float32, transposed), and threads
   * loading at once would add those peaks up (at 135M the embedding alone is 113 MB a copy).
   */
  async load(version: VersionRef): Promise<void> {
    for (const s of this.slots) await this.request(s, { type: "load", id: 0, version });
    this.versions.set(version.id, version);
  }

  retire(versionId: number): void {
    this.versions.delete(versionId);
    for (const s of this.slots) if (s.alive) s.worker.postMessage({ type: "retire", versionId } satisfies ToThread);
  }

  /**
   * Samples `n` completions from a loaded version on the least busy thread. `priority`
   * "background" (the /v1 API) waits while labelers' requests fill the pool (see below).
   * Either way the number of pending requests is bounded: past it the caller is told "busy".
   */
  async generate(
    req: SamplingParams & { versionId: number; onToken?: (e: TokenEvent) => void; signal?: AbortSignal; priority?: SamplePriority },
  ): Promise<GeneratedCompletion[]> {
    const { versionId, onToken, signal, priority = "labeler", ...params } = req;
    const maxPending = this.opts.maxPending ?? 32 * this.opts.size;
    if (this.pendingGenerates >= maxPending) throw new SamplerBusyError(this.pendingGenerates);
    this.pendingGenerates++;
    try {
      if (priority === "background") return await this.generateInBackground(versionId, params, onToken, signal);
      this.labelerInFlight++;
      try {
        return await this.generateOnSomeThread(versionId, params, onToken, signal);
      } finally {
        this.labelerInFlight--;
        for (const wake of this.backgroundWaiters.splice(0)) wake();
      }
    } finally {
      this.pendingGenerates--;
    }
  }

  // --- priority (issue 17): labelers first --------------------------------------------------
  // Rows of concurrent requests share decode steps, so every background row slows the battles
  // in the same batch. A background request therefore starts only while fewer labeler requests
  // are in flight than there are threads, and otherwise waits until one finishes. A started
  // background request is not preempted. Under a constant labeler load background requests
  // wait; callers bound how many may wait.
  private labelerInFlight = 0;
  private backgroundWaiters: (() => void)[] = [];

  private async generateInBackground(
    versionId: number,
    params: SamplingParams,
    onToken?: (e: TokenEvent) => void,
    signal?: AbortSignal,
  ): Promise<GeneratedCompletion[]> {
    while (this.labelerInFlight >= this.slots.length) {
      if (signal?.aborted) throw new Error("the request was cancelled while waiting for the sampler");
      await new Promise<void>((resolve) => {
        this.backgroundWaiters.push(resolve);
        signal?.addEventListener("abort", () => resolve(), { once: true });
      });
    }
    return this.generateOnSomeThread(versionId, params, onToken, signal);
  }
  // --------------------------------------------------------------------------------------------

  private async generateOnSomeThread(
    versionId: number,
    params: SamplingParams,
    onToken?: (e: TokenEvent) => void,
    signal?: AbortSignal,
  ): Promise<GeneratedCompletion[]> {
    for (let attempt = 0; ; attempt++) {
      const slot = this.leastBusy();
      try {
        return (await this.request(
          slot,
          { type: "generate", id: 0, versionId, params, stream: !!onToken },
          onToken,
          signal,
        )) as GeneratedCompletion[];
      } catch (err) {
        // A thread that restarted lost its models: reload this version there and retry once.
        const known = this.versions.get(versionId);
        if (err instanceof NotLoadedError && known && attempt === 0) {
          await this.request(slot, { type: "load", id: 0, version: known });
          continue;
        }
        throw err;
      }
    }
  }

  /** What each live thread holds now (tensors, wasm heap, versions), in thread order. */
  async memory(): Promise<ThreadMemory[]> {
    const alive = this.slots.filter((s) => s.alive);
    return (await Promise.all(alive.map((s) => this.request(s, { type: "memory", id: 0 })))) as ThreadMemory[];
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private leastBusy(): Slot {
    const alive = this.slots.filter((s) => s.alive);
    if (alive.length === 0) throw new Error("no sampler thread is running");
    return alive.reduce((a, b) => (b.inFlight < a.inFlight ? b : a));
  }

  private request(slot: Slot, msg: ToThread, onToken?: (e: TokenEvent) => void, signal?: AbortSignal): Promise<unknown> {
    const id = this.nextId++;
    const full = { ...msg, id } as ToThread;
    return slot.ready.then(
      () =>
        new Promise((resolve, reject) => {
          if (!slot.alive) return reject(new Error("sampler thread exited before the request was sent"));
          // Cancelled while waiting for the thread: an aborted signal fires no more events.
          if (signal?.aborted) return reject(signal.reason instanceof Error ? signal.reason : new Error("cancelled"));
          slot.inFlight++;
          const done = () => {
            slot.inFlight--;
            slot.pending.delete(id);
            signal?.removeEventListener("abort", onAbort);
          };
          const onAbort = () => slot.worker.postMessage({ type: "cancel", id } satisfies ToThread);
          signal?.addEventListener("abort", onAbort, { once: true });
          slot.pending.set(id, {
            resolve: (v) => (done(), resolve(v)),
            reject: (e) => (done(), reject(e)),
            onToken,
          });
          slot.worker.postMessage(full);
        }),
    );
  }

  private spawn(): Slot {
    const file = this.opts.threadFile ?? path.resolve(process.cwd(), "src/server/sampler/thread.ts");
    const worker = new Worker(bootstrap(file), {
      eval: true,
      workerData: {
        backend: this.opts.backend,
        checkpointRoot: this.opts.checkpointRoot,
        nice: this.opts.nice ?? 0,
        packedWeightsLimitBytes: this.opts.packedWeightsLimitBytes ?? 64 * 2 ** 20,
      },
    });
    let markReady!: () => void;
    let failReady!: (e: Error) => void;
    const slot: Slot = {
      worker,
      ready: new Promise<void>((res, rej) => ((markReady = res), (failReady = rej))),
      inFlight: 0,
      pending: new Map(),
      alive: true,
      wasReady: false,
    };
    slot.ready.catch(() => {});
    worker.on("message", (m: FromThread) => {
      if (m.type === "ready") {
        slot.wasReady = true;
        return markReady();
      }
      const p = slot.pending.get(m.id);
      if (!p) return;
      if (m.type === "tokens") {
        if (p.onToken) for (const u of m.updates) p.onToken(u);
      } else if (m.type === "loaded") p.resolve(undefined);
      else if (m.type === "done") p.resolve(m.completions);
      else if (m.type === "memory") p.resolve(m.memory);
      else if (m.type === "error") p.reject(m.notLoaded ? new NotLoadedError(m.message) : new Error(m.message));
    });
    worker.on("error", (err) => process.stderr.write(`sampler thread error: ${err.message}\n`));
    worker.on("exit", (code) => {
      slot.alive = false;
      failReady(new Error(`sampler thread exited with code ${code} before it was ready`));
      for (const p of slot.pending.values()) p.reject(new Error(`sampler thread exited (code ${code}) during the request`));
      slot.pending.clear();
      // A thread that never got ready would fail again: report instead of respawning forever.
      if (this.closed || !slot.wasReady) return;
      // Replace the thread and give it every version the pool serves.
      const i = this.slots.indexOf(slot);
      const fresh = this.spawn();
      if (i >= 0) this.slots[i] = fresh;
      for (const v of this.versions.values()) void this.request(fresh, { type: "load", id: 0, version: v }).catch(() => {});
    });
    return slot;
  }
}
