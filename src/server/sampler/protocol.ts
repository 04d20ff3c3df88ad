// Messages between the sampler pool (web process main thread) and its worker threads.
import type { VersionRef } from "../policy/load.ts";

export interface SamplingParams {
  promptText: string;
  /**
   * A chat request's conversation: a model with a chat template is conditioned on the template's
   * rendering of all of it; a model without one on `promptText` (its plain rendering).
   */
  messages?: { role: string; content: string }[];
  n: number;
  temperature: number;
  topK: number;
  topP: number;
  /**
   * The length a completion aims for, in the model's tokens (bytes for a byte-level model). It
   * then ends at the next word or sentence boundary within a small overshoot (stop-rule.ts), or
   * earlier at the model's EOS.
   */
  maxNewTokens: number;
  seed: number;
  stopStrings?: string[];
  /** stop at exactly `maxNewTokens`, even mid-word (measurements and tests that count tokens) */
  exactLength?: boolean;
  /** return each token's log-prob, and this many most likely alternatives per step (0–20) */
  logprobs?: { top: number };
}

/** One produced token as text and bytes with its temperature-1 log-prob (OpenAI's logprobs content). */
export interface TokenLogprob {
  token: string;
  bytes: number[];
  logprob: number;
  /** the most likely tokens at this step, most likely first */
  top: { token: string; bytes: number[]; logprob: number }[];
}

export interface GeneratedCompletion {
  text: string;
  /** exact ids the completion was conditioned on (with BOS), and the ids it produced */
  promptTokenIds: number[];
  /** the text `promptTokenIds` encode when it is not `promptText` (a chat template's rendering) */
  renderedPrompt?: string;
  tokenIds: number[];
  /** summed log-prob under the producing policy */
  logprob: number;
  /** with `logprobs`: one entry per id of `tokenIds` */
  tokenLogprobs?: TokenLogprob[];
  /** "eos", "stop" (a stop string), "boundary" (ended at a word or sentence boundary after
   * maxNewTokens), "length" (no boundary within the overshoot, or the context was full), "aborted" */
  finishReason: string;
  firstTokenMs: number | null;
  latencyMs: number;
}

/**
 * What one sequence produced since the last message: its new token ids and the change to its
 * decoded text, as "keep the first `from` characters, then append `append`" (a byte-level
 * model can end the text in half a UTF-8 character, which a later byte completes, so the tail
 * may be rewritten). Only the change crosses the thread boundary, so streaming costs O(length).
 */
export interface TokenUpdate {
  index: number;
  tokenIds: number[];
  from: number;
  append: string;
}

export type ToThread =
  | { type: "load"; id: number; version: VersionRef }
  | { type: "retire"; versionId: number }
  | { type: "generate"; id: number; versionId: number; params: SamplingParams; stream: boolean }
  | { type: "cancel"; id: number }
  | { type: "memory"; id: number };

/** What one sampler thread holds (the web process's RSS counts every thread's). */
export interface ThreadMemory {
  /** tensors alive in the thread's tfjs, and their bytes (the loaded models' weights, mostly) */
  tensors: number;
  tensorBytes: number;
  /** size of the thread's WebAssembly heap (wasm backend; it grows and never shrinks), else null */
  wasmHeapBytes: number | null;
  /** versions the thread holds */
  versions: number[];
}

export type FromThread =
  | { type: "ready" }
  | { type: "loaded"; id: number }
  /** at most one message per request per decode step, covering every sequence that advanced */
  | { type: "tokens"; id: number; updates: TokenUpdate[] }
  | { type: "done"; id: number; completions: GeneratedCompletion[] }
  | { type: "memory"; id: number; memory: ThreadMemory }
  | { type: "error"; id: number; message: string; notLoaded?: boolean };
