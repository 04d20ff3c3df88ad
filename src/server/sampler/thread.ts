// One sampler thread: its own tfjs backend (wasm runs single-threaded, so threads are how a
// web process uses more than one core) and its own copies of the loaded models. Sampling here
// never blocks the web process's event loop, so votes keep flowing while completions stream.
// The thread also runs at a lower scheduling priority than the event loop (Linux nice values
// are per thread): sampling is throughput work, requests are latency work.
import os from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs-core";
import { type BackendName, encodeChat, encodePrompt, initBackend, SampleBatcher, tokenPiece } from "../../lm/index.ts";
import { nativeGemmRouting } from "../../lm/native.ts";
import { DirectoryCheckpointStore } from "../policy/checkpoint-store.ts";
import { ModelCache, type ModelLease } from "../policy/model-cache.ts";
import type { FromThread, ThreadMemory, TokenUpdate, ToThread } from "./protocol.ts";
import { BoundaryStop, lengthUnitForVocab, overshootFor, planStop } from "./stop-rule.ts";

if (!parentPort) throw new Error("sampler/thread.ts must run as a worker thread (see sampler/pool.ts)");
const port = parentPort;
const { backend, checkpointRoot, nice, packedWeightsLimitBytes } = workerData as {
  backend: BackendName | "auto";
  checkpointRoot: string;
  nice: number;
  packedWeightsLimitBytes: number;
};
if (nice > 0) {
  try {
    os.setPriority(nice); // pid 0: on Linux, this thread only
  } catch {
    // not permitted here (some containers): run at the process's priority
  }
}

const cache = new ModelCache(new DirectoryCheckpointStore(checkpointRoot));
// Concurrent requests (battles) on this thread share decode steps: one forward pass per step
// for all of them, instead of one per request.
const batcher = new SampleBatcher();
const cancels = new Map<number, AbortController>();
const post = (m: FromThread) => port.postMessage(m);

/** Length of the common prefix of two strings. */
function commonPrefix(a: string, b: string): number {
  if (b.startsWith(a)) return a.length;
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/**
 * Collects one request's tokens during a decode step and posts them as a single message when
 * the step yields (a microtask), each sequence's text as a change against what was sent.
 */
function tokenStreamer(id: number) {
  const sent = new Map<number, string>();
  const pending = new Map<number, { tokenIds: number[]; text: string }>();
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending.size === 0) return;
    const updates: TokenUpdate[] = [];
    for (const [index, p] of pending) {
      const before = sent.get(index) ?? "";
      const from = commonPrefix(before, p.text);
      updates.push({ index, tokenIds: p.tokenIds, from, append: p.text.slice(from) });
      sent.set(index, p.text);
    }
    pending.clear();
    post({ type: "tokens", id, updates });
  };
  return {
    push(index: number, tokenIds: number[], textSoFar: string) {
      const p = pending.get(index);
      if (p) {
        p.tokenIds.push(...tokenIds);
        p.text = textSoFar;
      } else pending.set(index, { tokenIds: [...tokenIds], text: textSoFar });
      if (!scheduled) {
        scheduled = true;
        queueMicrotask(flush);
      }
    },
    flush,
  };
}

async function generate(msg: Extract<ToThread, { type: "generate" }>): Promise<void> {
  let lease: ModelLease;
  try {
    lease = cache.acquire(msg.versionId);
  } catch (err) {
    post({ type: "error", id: msg.id, message: (err as Error).message, notLoaded: true });
    return;
  }
  const abort = new AbortController();
  cancels.set(msg.id, abort);
  const started = performance.now();
  const p = msg.params;
  const firstToken: (number | null)[] = Array(p.n).fill(null);
  const streamer = msg.stream ? tokenStreamer(msg.id) : null;
  // Per sequence: every id sampled, and how many of them the stream has carried.
  const ids: number[][] = Array.from({ length: p.n }, () => []);
  const streamed: number[] = Array(p.n).fill(0);
  const show = (index: number, count: number, text: string) => {
    streamer?.push(index, ids[index]!.slice(streamed[index], count), text);
    streamed[index] = count;
  };
  try {
    // A chat request on a model with a chat template: the template renders the whole conversation.
    const chat = p.messages ? encodeChat(lease.tokenizer, p.messages, p.promptText) : null;
    const promptIds = chat ? chat.ids : encodePrompt(lease.tokenizer, p.promptText);
    const renderedPrompt = chat && chat.text !== p.promptText ? chat.text : undefined;
    const room = lease.model.config.nPositions - promptIds.length;
    if (room < 1)
      throw new Error(
        `the prompt is ${promptIds.length} tokens; ${lease.version.name} has a context of ${lease.model.config.nPositions}, so it needs a shorter prompt`,
      );
    const overshoot = p.exactLength ? 0 : overshootFor(lengthUnitForVocab(lease.tokenizer.vocabSize));
    const plan = planStop(p.maxNewTokens, overshoot, room);
    const stop = p.exactLength ? null : new BoundaryStop(p.n, plan, lease.tokenizer.eos);
    // Set when every sequence found its end: the rest of the budget would only be thrown away.
    let settled = false;
    const results = await batcher.sample(lease.model, lease.tokenizer, {
      promptIds,
      n: p.n,
      temperature: p.temperature,
      topK: p.topK,
      topP: p.topP,
      maxNewTokens: plan.limit,
      seed: p.seed,
      stopStrings: p.stopStrings,
      topLogprobs: p.logprobs?.top,
      signal: abort.signal,
      onToken: (index: number, tokenId: number, textSoFar: string) => {
        if (firstToken[index] === null) firstToken[index] = Math.round(performance.now() - started);
        ids[index]!.push(tokenId);
        if (!stop) return show(index, ids[index]!.length, textSoFar);
        const visible = stop.observe(index, tokenId, textSoFar);
        if (visible) show(index, visible.shown, visible.text);
        if (!settled && stop.settled) {
          settled = true;
          abort.abort();
        }
      },
    });
    const completions = results.map((r, i) => {
      const cut = stop?.cutOf(i);
      const kept = cut ? r.ids.slice(0, cut.keep) : Array.from(r.ids);
      const text = cut ? cut.text : r.text;
      // Whatever was held back and belongs to the completion (a sequence that reached the limit
      // without a boundary keeps all it sampled) goes out before "done".
      if (streamed[i]! < kept.length) show(i, kept.length, text);
      return {
        text,
        promptTokenIds: promptIds,
        renderedPrompt,
        tokenIds: kept,
        // over the kept tokens only: training scores exactly these
        logprob: cut ? r.stepLogprobs.slice(0, cut.keep).reduce((a, b) => a + b, 0) : r.logprob,
        finishReason: cut ? "boundary" : r.finishReason,
        firstTokenMs: firstToken[i] ?? null,
        tokenLogprobs: p.logprobs
          ? kept.map((id, t) => ({
              ...tokenPiece(lease.tokenizer, id),
              logprob: r.stepLogprobs[t]!,
              top: (r.stepTopLogprobs?.[t] ?? []).map((alt) => ({ ...tokenPiece(lease.tokenizer, alt.id), logprob: alt.logprob })),
            }))
          : undefined,
      };
    });
    streamer?.flush(); // every token is out before "done"
    const latencyMs = Math.round(performance.now() - started);
    post({ type: "done", id: msg.id, completions: completions.map((c) => ({ ...c, latencyMs })) });
  } catch (err) {
    post({ type: "error", id: msg.id, message: (err as Error).message });
  } finally {
    cancels.delete(msg.id);
    lease.release();
  }
}

/**
 * Decode steps multiply a few rows by every weight. Below `nativeGemmRouting.minRowsNN` rows the
 * wasm backend's own kernel (XNNPACK) runs them, and it keeps a packed copy of every weight it
 * has multiplied, for good: at 135M parameters that is +0.4 GB in each thread's wasm heap, which
 * never shrinks. Once this thread serves a model of at least `packedWeightsLimitBytes`, every
 * product goes to the native GEMM, which packs small blocks per call and keeps nothing. Small
 * models (the house model) keep XNNPACK's faster path for a handful of rows.
 */
function avoidPackedCopies(versionId: number): void {
  const lease = cache.acquire(versionId);
  try {
    if (lease.model.numParams() * 4 >= packedWeightsLimitBytes) nativeGemmRouting.minRowsNN = 1;
  } finally {
    lease.release();
  }
}

function threadMemory(): ThreadMemory {
  const m = tf.memory();
  // the wasm backend's heap (an internal field: reported for measurement only)
  const heap = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8?.byteLength ?? null;
  return { tensors: m.numTensors, tensorBytes: m.numBytes, wasmHeapBytes: heap, versions: cache.loadedIds() };
}

port.on("message", (msg: ToThread) => {
  switch (msg.type) {
    case "load":
      cache.load(msg.version).then(
        () => {
          avoidPackedCopies(msg.version.id);
          post({ type: "loaded", id: msg.id });
        },
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
    case "memory":
      post({ type: "memory", id: msg.id, memory: threadMemory() });
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
