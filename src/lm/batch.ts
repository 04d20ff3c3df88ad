// Continuous batching for sampling. Concurrent `sample` requests for the same model share
// decode steps: every step runs the next token of every live row of every running request
// (plus the prompts of newly admitted requests) through one `segmentLogits` call, so the
// per-kernel overhead of a step is paid once per step instead of once per request, and the
// matMuls run on more rows at a time (wasm's matMul only reaches its speed from ~4 rows up).
//
// A request's life: queued → admitted (its prompt is prefilled as one segment of a step and its
// cache copied to its n rows) → its rows decode in every following step until each ends (EOS,
// stop string, length, abort) → resolved. Rows carry their own position and KV cache, so
// requests join and leave mid-flight. Each request draws from its own RNG in its own row order,
// so its results are the same as `sample()`'s for the same options, whatever else shares the steps.
import type { CausalLM } from "./causal.ts";
import { type Segment, segmentLogits } from "./decode.ts";
import { type SampledCompletion, type SampleOptions, SampleRequest, yieldToEventLoop } from "./sample.ts";
import type { Tokenizer } from "./tokenizer.ts";

export interface SampleBatcherOptions {
  /** Most rows decoding together for one model (default 64). A request with more rows than this still runs, alone. */
  maxRows?: number;
  /**
   * Most prompt tokens prefilled in one step (default 1024), so a burst of new requests does
   * not stall the rows already streaming for long. At least one waiting request is admitted per step.
   */
  maxPrefillTokens?: number;
}

/** Counters over the batcher's life: forward passes run, and segments (rows or prompts) they carried. */
export interface BatcherStats {
  steps: number;
  segments: number;
  maxSegmentsInStep: number;
}

interface Job {
  req: SampleRequest;
  resolve: (r: SampledCompletion[]) => void;
  reject: (e: unknown) => void;
}

/** The running decode batch of one model. */
class ModelBatch {
  private queue: Job[] = [];
  private running: Job[] = [];
  private loop: Promise<void> | null = null;

  constructor(
    private readonly model: CausalLM,
    private readonly limits: Required<SampleBatcherOptions>,
    private readonly stats: BatcherStats,
    private readonly onIdle: () => void,
  ) {}

  add(job: Job): void {
    this.queue.push(job);
    // the first step waits one turn of the event loop, so requests submitted together are prefilled together
    this.loop ??= this.run();
  }

  /** Ends every request as aborted (their results come back with finishReason "aborted"). */
  abortAll(): Promise<void> {
    for (const job of [...this.running, ...this.queue]) job.req.abort();
    return this.loop ?? Promise.resolve();
  }

  private async run(): Promise<void> {
    try {
      do {
        await yieldToEventLoop(); // worker threads keep receiving messages between steps
        try {
          this.step();
        } catch (err) {
          // a bug, not a request's fault: fail everything here rather than leave callers waiting forever
          for (const job of [...this.running, ...this.queue]) job.reject(err);
          this.running = [];
          this.queue = [];
        }
      } while (this.running.length > 0 || this.queue.length > 0);
    } finally {
      this.loop = null;
      this.onIdle();
    }
  }

  private step(): void {
    // 1. aborted requests leave, queued or running
    for (const job of this.running) job.req.checkAbort();
    const waiting: Job[] = [];
    for (const job of this.queue) {
      if (job.req.checkAbort() || job.req.finished) job.resolve(job.req.out);
      else waiting.push(job);
    }
    this.queue = waiting;

    // 2. every running request picks its rows' next tokens (an error, e.g. from onToken, fails that request only)
    const failed = new Set<Job>();
    for (const job of this.running) {
      if (job.req.finished) continue;
      try {
        job.req.pick();
      } catch (err) {
        failed.add(job);
        job.reject(err);
      }
    }
    this.running = this.running.filter((job) => {
      if (failed.has(job)) return false;
      if (job.req.finished) job.resolve(job.req.out);
      return !job.req.finished;
    });

    // 3. admit waiting requests while their rows fit
    const admitted: Job[] = [];
    let rows = this.running.reduce((a, job) => a + job.req.liveRows.length, 0),
      prefill = 0;
    while (this.queue.length > 0) {
      const { req } = this.queue[0];
      const T0 = req.opts.promptIds.length;
      if (rows > 0 && rows + req.n > this.limits.maxRows) break;
      if (admitted.length > 0 && prefill + T0 > this.limits.maxPrefillTokens) break;
      admitted.push(this.queue.shift()!);
      rows += req.n;
      prefill += T0;
    }

    // 4. one forward pass: each running row's last token, then each admitted prompt
    const segments: Segment[] = [];
    const counts = this.running.map((job) => {
      const segs = job.req.decodeSegments();
      segments.push(...segs);
      return segs.length;
    });
    for (const job of admitted) segments.push(job.req.prefill());
    if (segments.length === 0) return;
    this.stats.steps++;
    this.stats.segments += segments.length;
    this.stats.maxSegmentsInStep = Math.max(this.stats.maxSegmentsInStep, segments.length);
    let logits: Float32Array;
    try {
      logits = segmentLogits(this.model, segments); // (segments, V)
    } catch (err) {
      // the model itself failed (e.g. disposed): nothing sharing this step can continue
      for (const job of [...this.running, ...admitted]) job.reject(err);
      this.running = [];
      return;
    }
    const V = this.model.config.vocabSize;
    let offset = 0;
    this.running.forEach((job, i) => {
      job.req.acceptLogits(logits, offset);
      offset += counts[i];
    });
    for (const job of admitted) {
      job.req.acceptPrefill(logits.subarray(offset * V, (offset + 1) * V));
      offset++;
      this.running.push(job);
    }
  }
}

/**
 * Merges concurrent sampling requests into shared decode steps, per model. `sample()` takes the
 * same options and returns the same results as the plain `sample()` (same ids for the same seed);
 * an abort signal ends only its own request, and an error in one request (a bad option, a
 * throwing onToken) rejects only that request.
 */
export class SampleBatcher {
  private readonly batches = new Map<CausalLM, ModelBatch>();
  private readonly limits: Required<SampleBatcherOptions>;
  private closed = false;
  readonly stats: BatcherStats = { steps: 0, segments: 0, maxSegmentsInStep: 0 };

  constructor(opts: SampleBatcherOptions = {}) {
    this.limits = { maxRows: opts.maxRows ?? 64, maxPrefillTokens: opts.maxPrefillTokens ?? 1024 };
    for (const [k, v] of Object.entries(this.limits)) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`SampleBatcher: ${k} must be a positive integer, got ${v}`);
    }
  }

  sample(model: CausalLM, tok: Tokenizer, opts: SampleOptions): Promise<SampledCompletion[]> {
    if (this.closed) return Promise.reject(new Error("SampleBatcher is closed"));
    let req: SampleRequest;
    try {
      req = new SampleRequest(model, tok, opts);
    } catch (err) {
      return Promise.reject(err);
    }
    if (req.finished) return Promise.resolve(req.out);
    return new Promise((resolve, reject) => {
      let batch = this.batches.get(model);
      if (!batch) {
        const created = new ModelBatch(model, this.limits, this.stats, () => {
          if (this.batches.get(model) === created) this.batches.delete(model);
        });
        this.batches.set(model, created);
        batch = created;
      }
      batch.add({ req, resolve, reject });
    });
  }

  /** Refuses new requests and ends the ones in flight as aborted; resolves when every batch has stopped. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.batches.values()].map((b) => b.abortAll()));
  }
}
