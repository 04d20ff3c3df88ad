// The sampler API: autoregressive sampling with a KV cache. `SampleRequest` is the state of one
// request (one prompt, n rows), stepped from outside; `sample()` runs one request on its own (its
// prompt prefilled once, the cache copied to its n rows, the rows advancing together), and
// `SampleBatcher` (batch.ts) runs many concurrent requests through the same decode step.
// The decode step is decode.ts (and its SIMD kernel, simd-kernel.ts); choosing a token, pick.ts.
import { type CausalLM, kvWidth } from "./causal.ts";
import { type KVCache, newCache, type Segment, segmentLogits } from "./decode.ts";
import { makeRng } from "./model.ts";
import { pickToken, topLogprobs } from "./pick.ts";
import type { Tokenizer } from "./tokenizer.ts";

export interface SampleOptions {
  promptIds: number[];
  n: number;
  temperature: number;
  topK?: number;
  topP?: number;
  maxNewTokens: number;
  stopStrings?: string[];
  seed: number;
  /** also record, per step, the this-many most likely tokens with their temperature-1 log-probs (OpenAI's top_logprobs) */
  topLogprobs?: number;
  onToken?: (index: number, tokenId: number, textSoFar: string) => void;
  signal?: AbortSignal;
}

export interface SampledCompletion {
  /** Every generated id, including EOS or the tokens that completed a stop string. */
  ids: number[];
  /** Decoded completion, cut before a stop string when one was produced. */
  text: string;
  /** log π(ids | prompt) at temperature 1, unfiltered: the sum of stepLogprobs. */
  logprob: number;
  stepLogprobs: number[];
  /** with `topLogprobs`: per step, the most likely tokens, most likely first */
  stepTopLogprobs?: { id: number; logprob: number }[][];
  finishReason: "eos" | "stop" | "length" | "aborted";
}

function validate(model: CausalLM, tok: Tokenizer, o: SampleOptions): void {
  if (!Number.isInteger(o.n) || o.n < 1) throw new Error(`sample: n must be a positive integer, got ${o.n}`);
  if (!(o.temperature >= 0)) throw new Error(`sample: temperature must be >= 0, got ${o.temperature}`);
  if (o.topK !== undefined && (!Number.isInteger(o.topK) || o.topK < 0))
    throw new Error(`sample: topK must be a non-negative integer, got ${o.topK}`);
  if (o.topP !== undefined && !(o.topP > 0 && o.topP <= 1)) throw new Error(`sample: topP must be in (0, 1], got ${o.topP}`);
  if (!Number.isInteger(o.maxNewTokens) || o.maxNewTokens < 0)
    throw new Error(`sample: maxNewTokens must be a non-negative integer, got ${o.maxNewTokens}`);
  if (o.topLogprobs !== undefined && (!Number.isInteger(o.topLogprobs) || o.topLogprobs < 0 || o.topLogprobs > 20))
    throw new Error(`sample: topLogprobs must be an integer in [0, 20], got ${o.topLogprobs}`);
  if (o.promptIds.length < 1) throw new Error("sample: promptIds is empty (start it with BOS; use encodePrompt)");
  if (o.promptIds.length > model.config.nPositions)
    throw new Error(`sample: prompt has ${o.promptIds.length} tokens; the model's context is ${model.config.nPositions}`);
  for (const id of o.promptIds)
    if (!Number.isInteger(id) || id < 0 || id >= model.config.vocabSize)
      throw new Error(`sample: prompt token ${id} is outside the vocabulary`);
  if (tok.vocabSize > model.config.vocabSize) throw new Error(`sample: tokenizer "${tok.name}" does not fit the model's vocabulary`);
}

/** One completion being generated: its cache, the position its next token goes to, and the logits it picks from. */
export interface Row {
  index: number;
  cache: KVCache;
  /** Position of the next token fed to the model (the one picked from `logits`). */
  pos: number;
  logits: Float32Array | null;
  done: boolean;
}

/**
 * The state of one sampling request (one prompt, n rows), stepped from outside: `prefill()`
 * gives the prompt segment, `acceptPrefill` its logits; then each step `pick()` chooses every
 * live row's next token and `decodeSegments()` / `acceptLogits` feed those tokens back. The
 * request owns its RNG, so its results do not depend on which other requests share the steps.
 */
export class SampleRequest {
  readonly n: number;
  readonly rows: Row[];
  readonly out: SampledCompletion[];
  private readonly rand: () => number;
  private readonly stops: string[];
  private readonly budget: number;
  private steps = 0;
  private fed: Row[] = [];

  constructor(
    readonly model: CausalLM,
    readonly tok: Tokenizer,
    readonly opts: SampleOptions,
  ) {
    validate(model, tok, opts);
    const P = model.config.nPositions,
      T0 = opts.promptIds.length;
    this.n = opts.n;
    this.rand = makeRng(opts.seed);
    this.stops = (opts.stopStrings ?? []).filter((s) => s.length > 0);
    this.budget = Math.min(opts.maxNewTokens, P - T0 + 1);
    this.out = Array.from({ length: this.n }, () => ({ ids: [], text: "", logprob: 0, stepLogprobs: [], finishReason: "length" as const }));
    this.rows = Array.from({ length: this.n }, (_, index) => ({
      index,
      cache: { k: [], v: [] },
      pos: T0,
      logits: null,
      done: this.budget <= 0,
    }));
  }

  get finished(): boolean {
    return this.rows.every((r) => r.done);
  }

  get liveRows(): Row[] {
    return this.rows.filter((r) => !r.done);
  }

  /** The prompt as one segment, into row 0's cache; sized for the prompt plus every position a row can still write. */
  prefill(): Segment {
    const T0 = this.opts.promptIds.length;
    this.rows[0].cache = newCache(this.model, T0 + this.budget - 1);
    return { cache: this.rows[0].cache, start: 0, tokens: this.opts.promptIds };
  }

  /** Copies the prompt's cache to the other rows; every row starts from the same logits (1, V). */
  acceptPrefill(logits: Float32Array): void {
    const T0 = this.opts.promptIds.length,
      C = kvWidth(this.model);
    const src = this.rows[0].cache;
    for (const row of this.rows) {
      row.logits = logits;
      if (row.index === 0) continue;
      row.cache = newCache(this.model, T0 + this.budget - 1);
      for (let l = 0; l < src.k.length; l++) {
        row.cache.k[l].set(src.k[l].subarray(0, T0 * C));
        row.cache.v[l].set(src.v[l].subarray(0, T0 * C));
      }
    }
  }

  /** Ends every live row as aborted when the request's signal has fired; returns whether it did. */
  checkAbort(): boolean {
    if (!this.opts.signal?.aborted) return false;
    this.abort();
    return true;
  }

  abort(): void {
    for (const row of this.rows) {
      if (row.done) continue;
      row.done = true;
      this.out[row.index].finishReason = "aborted";
    }
  }

  /** Picks the next token of every live row, in row order (the order the request's RNG is drawn in). */
  pick(): void {
    const { tok, opts } = this;
    const stops = tok.stopIds ?? [tok.eos];
    for (const row of this.rows) {
      if (row.done) continue;
      const { id, logprob } = pickToken(row.logits!, opts, this.rand);
      const o = this.out[row.index];
      if (opts.topLogprobs) (o.stepTopLogprobs ??= []).push(topLogprobs(row.logits!, opts.topLogprobs));
      o.ids.push(id);
      o.stepLogprobs.push(logprob);
      o.logprob += logprob;
      o.text = tok.decode(o.ids);
      if (stops.includes(id)) {
        row.done = true;
        o.finishReason = "eos";
      } else {
        const hit = this.stops.map((st) => o.text.indexOf(st)).filter((i) => i >= 0);
        if (hit.length) {
          row.done = true;
          o.finishReason = "stop";
          o.text = o.text.slice(0, Math.min(...hit));
        }
      }
      opts.onToken?.(row.index, id, o.text);
      row.logits = null;
    }
    this.steps++;
    // the last token of the budget is never fed back: its row is complete ("length")
    if (this.steps >= this.budget) for (const row of this.rows) row.done = true;
  }

  /** One segment per live row: the token it just picked, at its own position. */
  decodeSegments(): Segment[] {
    this.fed = this.liveRows;
    return this.fed.map((row) => ({ cache: row.cache, start: row.pos, tokens: [this.out[row.index].ids.at(-1)!] }));
  }

  /** Logits for `decodeSegments()`'s rows, in the same order, as rows of a (·, V) block starting at `offset`. */
  acceptLogits(logits: Float32Array, offset = 0): void {
    const V = this.model.config.vocabSize;
    this.fed.forEach((row, i) => {
      row.logits = logits.subarray((offset + i) * V, (offset + i + 1) * V);
      row.pos++;
    });
    this.fed = [];
  }
}

export const yieldToEventLoop = () => new Promise<void>((res) => setImmediate(res));

/** n completions of one prompt, sampled as one batch with a KV cache. Yields to the event loop between steps. */
export async function sample(model: CausalLM, tok: Tokenizer, opts: SampleOptions): Promise<SampledCompletion[]> {
  const req = new SampleRequest(model, tok, opts);
  if (req.finished) return req.out;
  req.acceptPrefill(segmentLogits(model, [req.prefill()]));
  for (;;) {
    if (req.checkAbort()) break;
    req.pick();
    if (req.finished) break;
    req.acceptLogits(segmentLogits(model, req.decodeSegments()));
    await yieldToEventLoop();
  }
  return req.out;
}
