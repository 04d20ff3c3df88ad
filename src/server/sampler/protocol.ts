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

export type ToThread =
  | { type: "load"; id: number; version: VersionRef }
  | { type: "retire"; versionId: number }
  | { type: "generate"; id: number; versionId: number; params: SamplingParams; stream: boolean }
  | { type: "cancel"; id: number };

export type FromThread =
  | { type: "ready" }
  | { type: "loaded"; id: number }
  | { type: "token"; id: number; index: number; tokenId: number; textSoFar: string }
  | { type: "done"; id: number; completions: GeneratedCompletion[] }
  | { type: "error"; id: number; message: string; notLoaded?: boolean };
