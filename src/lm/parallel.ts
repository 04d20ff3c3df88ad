// Data-parallel gradients: the batch is split into shards, the main thread computes one and
// each worker thread (its own wasm backend, its own model copy) another; the loss sees all
// log-probs at once, then every shard backpropagates its part and the gradients are summed.
// On wasm, one Node thread uses one core, so this is how training uses a multi-core machine.
import { Worker } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs-core";
import type { BackendName } from "./backend.ts";
import type { CausalLM } from "./causal.ts";
import { forwardWithGrad, type LossFn, type ScoreItem } from "./forward.ts";
import type { WorkerReply, WorkerRequest } from "./grad-worker.ts";

interface Slot {
  worker: Worker;
  synced: { model: CausalLM; version: number } | null;
  queue: { resolve: (r: WorkerReply) => void; reject: (e: Error) => void }[];
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
  private constructor(private slots: Slot[]) {}

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
    const fwd = used.map((slot, i) => {
      const fresh = !slot.synced || slot.synced.model !== model || slot.synced.version !== model.version;
      const params = fresh
        ? model.paramNames().map((p) => [p, Float32Array.from(model.getParam(p).dataSync() as Float32Array)] as [string, Float32Array])
        : undefined;
      slot.synced = { model, version: model.version };
      return this.call(slot, { type: "forward", config: model.config, params, items: shard(i + 1) });
    });
    let local;
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
