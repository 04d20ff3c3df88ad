// Worker thread for GradWorkerPool: holds its own tfjs backend and model copy, and runs the
// forward and backward halves of logprobGrads on its shard when the main thread asks. The
// weights come from the pool's SharedArrayBuffer (parallel.ts): the buffer arrives once per
// model, and on `reload` the worker refreshes its tensors from it (a copy into its own tfjs
// backend, one tensor at a time) instead of receiving the parameters in the message.
import { parentPort } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs-core";
import { type BackendName, useBackend } from "./backend.ts";
import { type CausalLM, type ModelConfig, modelFromParams } from "./causal.ts";
import { forwardWithGrad, type PendingGrads, type ScoreItem } from "./forward.ts";
import { sharedViews } from "./parallel.ts";

export interface SharedWeightsMessage {
  config: ModelConfig;
  buffer: SharedArrayBuffer;
  layout: [string, number, number[]][];
}

export type WorkerRequest =
  | { type: "init"; backend: BackendName }
  /** `weights`: a new model's shared buffer; `reload`: the buffer holds newer values than the model */
  | { type: "forward"; weights?: SharedWeightsMessage; reload: boolean; items: ScoreItem[] }
  | { type: "backward"; dlogps: Float64Array }
  | { type: "discard" };

export type WorkerReply =
  | { type: "ready" }
  | { type: "logps"; logps: Float64Array }
  | { type: "grads"; grads: [string, Float32Array][] }
  | { type: "discarded" }
  | { type: "error"; message: string };

let model: CausalLM | null = null;
let shared: { buffer: SharedArrayBuffer; layout: [string, number, number[]][] } | null = null;
let pending: PendingGrads | null = null;

/**
 * The parameters as the shared buffer holds them now. The wasm backend copies a view into its
 * own memory when a tensor is made; the cpu backend would keep the view itself, which the main
 * thread overwrites on its next step, so there each value is copied first.
 */
function currentParams(): Map<string, Float32Array> {
  const views = sharedViews(shared!.buffer, shared!.layout);
  if (tf.getBackend() === "wasm") return views;
  return new Map([...views].map(([n, v]) => [n, v.slice()]));
}

function handle(msg: WorkerRequest): Promise<WorkerReply> | WorkerReply {
  switch (msg.type) {
    case "init":
      return useBackend(msg.backend).then(() => ({ type: "ready" }) as WorkerReply);
    case "forward": {
      if (msg.weights) {
        pending?.dispose();
        pending = null;
        model?.dispose();
        model = null;
        shared = { buffer: msg.weights.buffer, layout: msg.weights.layout };
        model = modelFromParams(msg.weights.config, currentParams());
      } else if (msg.reload) {
        if (!model || !shared) throw new Error("worker has no model: the first forward request must carry the shared weights");
        model.setParams(currentParams()); // one tensor at a time: the old one is freed as its successor arrives
      }
      if (!model) throw new Error("worker has no model: the first forward request must carry the shared weights");
      pending?.dispose();
      pending = forwardWithGrad(model, msg.items);
      return { type: "logps", logps: pending.logps };
    }
    case "backward": {
      if (!pending) throw new Error("backward requested without a pending forward pass");
      const grads = pending.backward(msg.dlogps);
      pending = null;
      const out: [string, Float32Array][] = [];
      for (const [n, g] of grads) {
        out.push([n, Float32Array.from(g.dataSync() as Float32Array)]);
        g.dispose();
      }
      return { type: "grads", grads: out };
    }
    case "discard":
      pending?.dispose();
      pending = null;
      return { type: "discarded" };
  }
}

parentPort!.on("message", async (msg: WorkerRequest) => {
  try {
    const reply = await handle(msg);
    const transfer = reply.type === "grads" ? reply.grads.map(([, a]) => a.buffer as ArrayBuffer) : [];
    parentPort!.postMessage(reply, transfer);
  } catch (e) {
    parentPort!.postMessage({ type: "error", message: e instanceof Error ? e.message : String(e) } satisfies WorkerReply);
  }
});
