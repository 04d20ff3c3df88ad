// Recognises errors that mean "the database connection went away" (a terminated backend, a
// restart, a failover) rather than "the query is wrong". The pool drops such a connection, so a
// request that is safe to repeat can be retried once on a fresh one.

const LOST_MESSAGE =
  /terminating connection|connection terminated|server closed the connection|connection (was )?(reset|refused|ended)|ECONNRESET|ECONNREFUSED|EPIPE|the database system is (starting up|shutting down)|57P0[123]|Can't reach database server/i;
const LOST_PRISMA_CODES = new Set(["P1001", "P1002", "P1017"]);

export function isConnectionLost(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && (LOST_PRISMA_CODES.has(code) || /^57P0[123]$/.test(code))) return true;
    const message = (e as { message?: unknown }).message;
    if (typeof message === "string" && LOST_MESSAGE.test(message)) return true;
  }
  return false;
}

// P2028 "Unable to start a transaction in the given time": no connection could be had in time
// (the server is down, or every connection is busy). Not a lost connection, but a retry later works.
const UNAVAILABLE_MESSAGE = /Unable to start a transaction in the given time/i;

/** The database is not reachable right now (down, restarting, or out of connections): a 503, not a 500. */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (isConnectionLost(err)) return true;
  for (let e = err, depth = 0; e && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code === "P2028") return true;
    const message = (e as { message?: unknown }).message;
    if (typeof message === "string" && UNAVAILABLE_MESSAGE.test(message)) return true;
  }
  return false;
}

/**
 * Runs `fn`, and up to twice more, a moment apart, while the connection was lost (after a mass
 * termination the first retry can draw another dead pooled connection). Only for work that is
 * safe to repeat.
 */
export async function retryOnConnectionLoss<T>(fn: () => Promise<T>, onRetry?: (err: unknown) => void): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= 2 || !isConnectionLost(err)) throw err;
      onRetry?.(err);
      await new Promise((r) => setTimeout(r, 25 * (attempt + 1)));
    }
  }
}
