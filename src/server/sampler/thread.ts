// One sampler thread: its own tfjs backend (wasm runs single-threaded, so threads are how a
// web process uses more than one core) and its own copies of the loaded models. Sampling here
// never blocks the web process's event loop, so votes keep flowing while completions stream.
import { parentPort, workerData } from "node:worker_threads";
import { encodePrompt, initBackend, sample, type BackendName } from "../../lm/index.ts";
import { DirectoryCheckpointStore } from "../policy/checkpoint-store.ts";
import { ModelCache } from "../policy/model-cache.ts";
import type { FromThread, ToThread } from "./protocol.ts";

if (!parentPort) throw new Error("sampler/thread.ts must run as a worker thread (see sampler/pool.ts)");
const port = parentPort;
const { backend, checkpointRoot } = workerData as { backend: BackendName | "auto"; checkpointRoot: string };

const cache = new ModelCache(new DirectoryCheckpointStore(checkpointRoot));
const cancels = new Map<number, AbortController>();
const post = (m: FromThread) => port.postMessage(m);

async function generate(msg: Extract<ToThread, { type: "generate" }>): Promise<void> {
  let lease;
  try {
    lease = cache.acquire(msg.versionId);
  } catch (err) {
    post({ type: "error", id: msg.id, message: (err as Error).message, notLoaded: true });
    return;
  }
  const abort = new AbortController();
  cancels.set(msg.id, abort);
  const started = performance.now();
  const firstToken: (number | null)[] = Array(msg.params.n).fill(null);
  try {
    const p = msg.params;
    const promptIds = encodePrompt(lease.tokenizer, p.promptText);
    const room = lease.model.config.nPositions - promptIds.length;
    if (room < 1) throw new Error(`the prompt is ${promptIds.length} tokens; ${lease.version.name} has a context of ${lease.model.config.nPositions}, so it needs a shorter prompt`);
    const results = await sample(lease.model, lease.tokenizer, {
      promptIds,
      n: p.n,
      temperature: p.temperature,
      topK: p.topK,
      topP: p.topP,
      maxNewTokens: Math.min(p.maxNewTokens, room),
      seed: p.seed,
      stopStrings: p.stopStrings,
      signal: abort.signal,
      onToken: (index: number, tokenId: number, textSoFar: string) => {
        if (firstToken[index] === null) firstToken[index] = Math.round(performance.now() - started);
        if (msg.stream) post({ type: "token", id: msg.id, index, tokenId, textSoFar });
      },
    });
    const latencyMs = Math.round(performance.now() - started);
    post({
      type: "done",
      id: msg.id,
      completions: results.map((r, i) => ({
        text: r.text,
        promptTokenIds: promptIds,
        tokenIds: Array.from(r.ids),
        logprob: r.logprob,
        finishReason: r.finishReason,
        firstTokenMs: firstToken[i] ?? null,
        latencyMs,
      })),
    });
  } catch (err) {
    post({ type: "error", id: msg.id, message: (err as Error).message });
  } finally {
    cancels.delete(msg.id);
    lease.release();
  }
}

port.on("message", (msg: ToThread) => {
  switch (msg.type) {
    case "load":
      cache.load(msg.version).then(
        () => post({ type: "loaded", id: msg.id }),
        (err) => post({ type: "error", id: msg.id, message: (err as Error).message }),
      );
      break;
    case "retire":
      cache.retire(msg.versionId);
      break;
    case "generate":
      void generate(msg);
      break;
    case "cancel":
      cancels.get(msg.id)?.abort();
      break;
  }
});

initBackend(backend).then(
  () => post({ type: "ready" }),
  (err) => {
    // Without a backend this thread cannot serve; the pool sees the exit and reports it.
    process.stderr.write(`sampler thread: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
