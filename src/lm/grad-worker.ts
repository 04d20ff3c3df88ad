// Worker thread for GradWorkerPool: holds its own tfjs backend and model copy, and runs the
// forward and backward halves of logprobGrads on its shard when the main thread asks.
import { parentPort } from "node:worker_threads";
import { type BackendName, useBackend } from "./backend.ts";
import { type CausalLM, type ModelConfig, modelFromParams } from "./causal.ts";
import { forwardWithGrad, type PendingGrads, type ScoreItem } from "./forward.ts";

export type WorkerRequest =
  | { type: "init"; backend: BackendName }
  | { type: "forward"; config: ModelConfig; params?: [string, Float32Array][]; items: ScoreItem[] }
  | { type: "backward"; dlogps: Float64Array }
  | { type: "discard" };

export type WorkerReply =
  | { type: "ready" }
  | { type: "logps"; logps: Float64Array }
  | { type: "grads"; grads: [string, Float32Array][] }
  | { type: "discarded" }
  | { type: "error"; message: string };

let model: CausalLM | null = null;
let pending: PendingGrads | null = null;

function handle(msg: WorkerRequest): Promise<WorkerReply> | WorkerReply {
  switch (msg.type) {
    case "init":
      return useBackend(msg.backend).then(() => ({ type: "ready" }) as WorkerReply);
    case "forward": {
      if (msg.params) {
        model?.dispose();
        model = modelFromParams(msg.config, new Map(msg.params));
      }
      if (!model) throw new Error("worker has no model: the first forward request must carry params");
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
