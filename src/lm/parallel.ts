// Data-parallel gradients: the batch is split into shards, the main thread computes one and
// each worker thread (its own wasm backend, its own model copy) another; the loss sees all
// log-probs at once, then every shard backpropagates its part and the gradients are summed.
// On wasm, one Node thread uses one core, so this is how training uses a multi-core machine.
//
// Weights reach the workers through one SharedArrayBuffer per model (SharedWeights below),
// handed to every worker once: after an optimizer step the main thread writes the new values
// into it and the workers reload their tensors from it. Before, every step posted a fresh copy
// of all parameters to every worker (at 135M parameters: 0.54 GB copied into a JS array, then
// cloned again into each worker, per step).
import { Worker } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs-core";
import type { BackendName } from "./backend.ts";
import type { CausalLM } from "./causal.ts";
import { forwardWithGrad, type LossFn, type PendingGrads, type ScoreItem } from "./forward.ts";
import type { WorkerReply, WorkerRequest } from "./grad-worker.ts";

interface Slot {
  worker: Worker;
  /** the shared weights this worker was given, and the model version it last loaded from them */
  synced: { weights: SharedWeights; version: number } | null;
  queue: { resolve: (r: WorkerReply) => void; reject: (e: Error) => void }[];
}

/**
 * A model's parameters in one SharedArrayBuffer, laid out in `paramNames()` order: the single
 * copy of the weights that the main thread writes and every gradient worker reads.
 */
export class SharedWeights {
  readonly buffer: SharedArrayBuffer;
  /** name, element offset, shape */
  readonly layout: [string, number, number[]][];
  /** the model version the buffer holds (-1: not written yet) */
  version = -1;

  constructor(readonly model: CausalLM) {
    let offset = 0;
    this.layout = model.paramNames().map((name) => {
      const shape = model.getParam(name).shape;
      const entry: [string, number, number[]] = [name, offset, shape];
      offset += shape.reduce((a, b) => a * b, 1);
      return entry;
    });
    this.buffer = new SharedArrayBuffer(offset * 4);
  }

  /** Copies the model's current parameters into the buffer, unless it already holds them. */
  sync(): void {
    if (this.version === this.model.version) return;
    for (const [name, offset, shape] of this.layout) {
      const n = shape.reduce((a, b) => a * b, 1);
      new Float32Array(this.buffer, offset * 4, n).set(this.model.getParam(name).dataSync() as Float32Array);
    }
    this.version = this.model.version;
  }
}

/** Views over a SharedWeights buffer, by parameter name (what a worker builds its model from). */
export function sharedViews(buffer: SharedArrayBuffer, layout: [string, number, number[]][]): Map<string, Float32Array> {
  const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
  return new Map(layout.map(([name, offset, shape]) => [name, new Float32Array(buffer, offset * 4, size(shape))]));
}

/**
 * Splits item indices into k shards of similar token counts, keeping items that share a
 * prompt together so each shard can still pack them into one row (see pack.ts).
 */
export function assignShards(items: ScoreItem[], k: number): number[][] {
  const groups = new Map<string, number[]>();
  items.forEach((it, i) => {
    const key = it.promptIds.join(",");
    const g = groups.get(key);
    if (g) g.push(i);
    else groups.set(key, [i]);
  });
  const cost = (g: number[]) => g.reduce((a, i) => a + items[i].promptIds.length + items[i].completionIds.length, 0);
  // largest groups first, each to the currently lightest shard; a group bigger than a fair
  // share is split so one shard does not get everything
  const fair = Math.ceil(items.length / k);
  const pieces: number[][] = [];
  for (const g of groups.values()) for (let s = 0; s < g.length; s += fair) pieces.push(g.slice(s, s + fair));
  pieces.sort((a, b) => cost(b) - cost(a));
  const shards: number[][] = Array.from({ length: k }, () => []);
  const load = new Array<number>(k).fill(0);
  for (const piece of pieces) {
    const s = load.indexOf(Math.min(...load));
    shards[s].push(...piece);
    load[s] += cost(piece);
  }
  return shards.map((sh) => sh.sort((a, b) => a - b));
}

export class GradWorkerPool {
  /** one shared buffer per model trained through this pool (weak: a disposed model's goes with it) */
  private weights = new WeakMap<CausalLM, SharedWeights>();

  private constructor(private slots: Slot[]) {}

  /** The shared buffer the workers read `model`'s weights from (created on its first step). */
  sharedWeightsOf(model: CausalLM): SharedWeights | undefined {
    return this.weights.get(model);
  }

  /** Starts `workers` extra threads (total shards = workers + 1, the main thread included). */
  static async create(opts: { workers: number; backend?: BackendName }): Promise<GradWorkerPool> {
    if (!Number.isInteger(opts.workers) || opts.workers < 0)
      throw new Error(`GradWorkerPool: workers must be a non-negative integer, got ${opts.workers}`);
    const backend = opts.backend ?? ((tf.getBackend() as BackendName) || "wasm");
    const slots: Slot[] = [];
    for (let i = 0; i < opts.workers; i++) {
      // the worker is TypeScript: register tsx's loader inside the thread, then import it
      // (a worker's --import execArgv is not honoured by Node 20 for ESM loaders)
      const entry = new URL("./grad-worker.ts", import.meta.url).href;
      const boot = `import("tsx/esm/api").then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
      const worker = new Worker(boot, { eval: true });
      const slot: Slot = { worker, synced: null, queue: [] };
      worker.on("message", (r: WorkerReply) => {
        const q = slot.queue.shift();
        if (!q) return;
        if (r.type === "error") q.reject(new Error(`grad worker ${i}: ${r.message}`));
        else q.resolve(r);
      });
      worker.on("error", (e) => slot.queue.splice(0).forEach((q) => q.reject(e)));
      worker.on("exit", (code) => slot.queue.splice(0).forEach((q) => q.reject(new Error(`grad worker ${i} exited with code ${code}`))));
      slots.push(slot);
    }
    const pool = new GradWorkerPool(slots);
    await Promise.all(slots.map((s) => pool.call(s, { type: "init", backend })));
    return pool;
  }

  get shards(): number {
    return this.slots.length + 1;
  }

  private call(slot: Slot, msg: WorkerRequest): Promise<WorkerReply> {
    return new Promise((resolve, reject) => {
      slot.queue.push({ resolve, reject });
      slot.worker.postMessage(msg);
    });
  }

  /** Same contract and result as logprobGrads, computed across the pool. */
  async logprobGrads(
    model: CausalLM,
    items: ScoreItem[],
    lossFn: LossFn,
  ): Promise<{ loss: number; logps: Float64Array; grads: Map<string, tf.Tensor> }> {
    const n = items.length;
    const k = Math.min(this.shards, n);
    if (n === 0) throw new Error("no items to score");
    const parts = assignShards(items, k).filter((p) => p.length > 0);
    const shard = (i: number) => parts[i].map((j) => items[j]);
    const used = this.slots.slice(0, parts.length - 1);
    let shared = this.weights.get(model);
    if (used.length > 0) {
      if (!shared) {
        shared = new SharedWeights(model);
        this.weights.set(model, shared);
      }
      shared.sync(); // workers are idle here: every earlier request has been answered
    }
    const fwd = used.map((slot, i) => {
      const weights =
        slot.synced?.weights === shared ? undefined : { config: model.config, buffer: shared!.buffer, layout: shared!.layout };
      const reload = weights !== undefined || slot.synced!.version !== model.version;
      slot.synced = { weights: shared!, version: model.version };
      return this.call(slot, { type: "forward", weights, reload, items: shard(i + 1) });
    });
    let local: PendingGrads;
    try {
      local = forwardWithGrad(model, shard(0));
    } catch (e) {
      await Promise.allSettled(fwd);
      await Promise.allSettled(used.map((s) => this.call(s, { type: "discard" })));
      throw e;
    }
    const logps = new Float64Array(n);
    const lengths = new Int32Array(n);
    parts[0].forEach((j, q) => {
      logps[j] = local.logps[q];
      lengths[j] = local.lengths[q];
    });
    try {
      const replies = await Promise.all(fwd);
      replies.forEach((r, i) => {
        if (r.type !== "logps") throw new Error(`grad worker ${i}: unexpected reply ${r.type}`);
        parts[i + 1].forEach((j, q) => {
          logps[j] = r.logps[q];
          lengths[j] = items[j].completionIds.length;
        });
      });
    } catch (e) {
      local.dispose();
      this.slots.forEach((s) => (s.synced = null));
      throw e;
    }
    let res: { loss: number; dlogps: Float64Array };
    try {
      res = lossFn(logps, lengths);
      if (!(res.dlogps instanceof Float64Array) || res.dlogps.length !== n)
        throw new Error(`lossFn must return dlogps as a Float64Array of length ${n}`);
    } catch (e) {
      local.dispose();
      await Promise.allSettled(used.map((s) => this.call(s, { type: "discard" })));
      throw e;
    }
    const pick = (i: number) => Float64Array.from(parts[i], (j) => res.dlogps[j]);
    const bwd = used.map((slot, i) => this.call(slot, { type: "backward", dlogps: pick(i + 1) }));
    const grads = local.backward(pick(0));
    const replies = await Promise.all(bwd);
    for (const r of replies) {
      if (r.type !== "grads") throw new Error(`grad worker: unexpected reply ${r.type}`);
      for (const [name, arr] of r.grads) {
        const g = grads.get(name)!;
        grads.set(
          name,
          tf.tidy(() => tf.add(g, tf.tensor(arr, g.shape))),
        );
        g.dispose();
      }
    }
    return { loss: res.loss, logps, grads };
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.slots = [];
  }
}
