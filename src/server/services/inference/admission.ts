// How many /v1 generations a web process runs at once, and how many may wait. Beyond the
// queue a request gets 503 at once instead of piling up behind labelers (the sampler pool
// already makes background work yield to battles; this bounds what waits there).
import { z } from "zod";
import { OpenAiError } from "./openai-errors.ts";

// Read here, not in src/server/env.ts (owned by another change): API_MAX_CONCURRENT,
// API_MAX_QUEUE. Tests may set them before the first request.
const limitsSchema = z.object({
  API_MAX_CONCURRENT: z.coerce.number().int().min(1).max(64).default(2),
  API_MAX_QUEUE: z.coerce.number().int().min(0).max(10_000).default(16),
});

export function readApiLimits(source: Record<string, string | undefined> = process.env): { maxConcurrent: number; maxQueue: number } {
  const clean = Object.fromEntries(
    Object.entries({ API_MAX_CONCURRENT: source.API_MAX_CONCURRENT, API_MAX_QUEUE: source.API_MAX_QUEUE }).filter(
      ([, v]) => v !== undefined && v.trim() !== "",
    ),
  );
  const parsed = limitsSchema.safeParse(clean);
  if (!parsed.success)
    throw new Error(`Invalid API limits: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  return { maxConcurrent: parsed.data.API_MAX_CONCURRENT, maxQueue: parsed.data.API_MAX_QUEUE };
}

export class AdmissionGate {
  private running = 0;
  private waiting: (() => void)[] = [];

  constructor(private readonly limits: { maxConcurrent: number; maxQueue: number }) {}

  /** Resolves with a release function once the request may sample; 503 when the queue is full. */
  async enter(signal?: AbortSignal): Promise<() => void> {
    if (this.running >= this.limits.maxConcurrent) {
      if (this.waiting.length >= this.limits.maxQueue) {
        throw new OpenAiError(
          503,
          "The server is busy with other requests (the arena's labelers come first). Retry in a few seconds.",
          "server_error",
          null,
          "overloaded",
          { "retry-after": "5" },
        );
      }
      await new Promise<void>((resolve, reject) => {
        const turn = () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        };
        const onAbort = () => {
          this.waiting = this.waiting.filter((w) => w !== turn);
          reject(new Error("the request was cancelled while queued"));
        };
        this.waiting.push(turn);
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    } else this.running++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next)
        next(); // the slot passes to the next waiter; running stays the same
      else this.running--;
    };
  }
}
