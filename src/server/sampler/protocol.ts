// Messages between the sampler pool (web process main thread) and its worker threads.
import type { VersionRef } from "../policy/load.ts";

export interface SamplingParams {
  promptText: string;
  n: number;
  temperature: number;
  topK: number;
  topP: number;
  maxNewTokens: number;
  seed: number;
  stopStrings?: string[];
}

export interface GeneratedCompletion {
  text: string;
  /** exact ids the completion was conditioned on (with BOS), and the ids it produced */
  promptTokenIds: number[];
  tokenIds: number[];
  /** summed log-prob under the producing policy */
  logprob: number;
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
  | { type: "cancel"; id: number };

export type FromThread =
  | { type: "ready" }
  | { type: "loaded"; id: number }
  /** at most one message per request per decode step, covering every sequence that advanced */
  | { type: "tokens"; id: number; updates: TokenUpdate[] }
  | { type: "done"; id: number; completions: GeneratedCompletion[] }
  | { type: "error"; id: number; message: string; notLoaded?: boolean };
