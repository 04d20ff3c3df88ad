// Database outages (a restart, a failover, a dropped connection) are retried with exponential
// backoff and jitter; anything else (a constraint, a bug) fails at once with its own message.
export function isTransientDbError(err: unknown): boolean {
  const e = err as { code?: string; message?: string; cause?: unknown } | null;
  if (!e) return false;
  const code = e.code ?? "";
  const msg = e.message ?? "";
  if (
    [
      "ECONNREFUSED",
      "ECONNRESET",
      "ETIMEDOUT",
      "EPIPE",
      "ENOTFOUND",
      "P1001",
      "P1002",
      "P1017",
      "57P01",
      "57P02",
      "57P03",
      "08000",
      "08003",
      "08006",
      "53300",
    ].includes(code)
  )
    return true;
  if (
    /connection terminated|connection refused|can't reach database|server closed the connection|terminating connection|Connection ended|timeout exceeded when trying to connect|timed out fetching a new connection|connection timeout|the database system is (starting up|shutting down)/i.test(
      msg,
    )
  )
    return true;
  return e.cause !== undefined && e.cause !== err ? isTransientDbError(e.cause) : false;
}

export interface RetryOptions {
  attempts?: number;
  baseMs?: number;
  maxMs?: number;
  signal?: AbortSignal;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

export async function withDbRetry<T>(fn: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? 8;
  const base = opts.baseMs ?? 200;
  const max = opts.maxMs ?? 10_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts || !isTransientDbError(err) || opts.signal?.aborted) throw err;
      const delay = Math.min(max, base * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
      opts.onRetry?.(err, attempt, delay);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
