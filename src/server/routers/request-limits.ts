// Size limits applied before tRPC sees a request: tRPC buffers and parses the whole body before
// zod's length checks run, so without these one anonymous POST of a few hundred MB to
// `auth.signIn` fills the web process's memory. Limits are per procedure; a batch gets the
// largest limit among its calls (its body holds all of their inputs).

/** Bytes for any procedure not listed below: ample for every form in the app. */
export const DEFAULT_BODY_LIMIT = 64 * 1024;

/** A 2 M-character import is up to ~6 MB as UTF-8 JSON (plus escapes); anything bigger is refused unread. */
export const IMPORT_BODY_LIMIT = 8 * 1024 * 1024;

const BODY_LIMITS: Record<string, number> = {
  // Username and password are at most a few hundred bytes; a batch of them stays small.
  "auth.signIn": 8 * 1024,
  "auth.signOut": 1024,
  "prompts.import": IMPORT_BODY_LIMIT,
  "preferences.import": IMPORT_BODY_LIMIT,
};

/** The client batches a page's queries; nothing legitimate sends more at once. */
export const MAX_BATCH_CALLS = 10;

export class RequestLimitError extends Error {
  constructor(
    readonly status: 400 | 413,
    message: string,
  ) {
    super(message);
  }
}

/** The procedure paths named in a tRPC URL (`/api/trpc/a.b,c.d?batch=1`). */
export function procedurePaths(url: string, endpoint: string): string[] {
  const { pathname } = new URL(url);
  const rest = pathname.startsWith(endpoint) ? pathname.slice(endpoint.length).replace(/^\//, "") : "";
  return decodeURIComponent(rest)
    .split(",")
    .filter((p) => p !== "");
}

export function bodyLimitFor(paths: string[]): number {
  return paths.reduce((limit, p) => Math.max(limit, BODY_LIMITS[p] ?? DEFAULT_BODY_LIMIT), paths.length ? 0 : DEFAULT_BODY_LIMIT);
}

const tooLarge = (limit: number) =>
  new RequestLimitError(
    413,
    `Request body too large: at most ${limit >= 1024 * 1024 ? `${limit / (1024 * 1024)} MB` : `${limit / 1024} KB`} for this call.`,
  );

/**
 * The request with its body read into memory, at most `limit` bytes of it: a declared length
 * over the limit is refused without reading anything, an undeclared one stops being read as
 * soon as it passes the limit.
 */
export async function readLimitedBody(req: Request, limit: number): Promise<Request> {
  if (req.method === "GET" || req.method === "HEAD" || req.body === null) return req;
  const declared = Number(req.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > limit) {
    await req.body.cancel().catch(() => {});
    throw tooLarge(limit);
  }
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    body.set(c, offset);
    offset += c.byteLength;
  }
  const headers = new Headers(req.headers);
  headers.delete("content-length");
  return new Request(req.url, { method: req.method, headers, body, signal: req.signal });
}

/** Refuses what is too big to run, before any procedure runs. */
export async function applyRequestLimits(req: Request, endpoint: string): Promise<Request> {
  const paths = procedurePaths(req.url, endpoint);
  if (paths.length > MAX_BATCH_CALLS) {
    await req.body?.cancel().catch(() => {});
    throw new RequestLimitError(400, `A batch may hold at most ${MAX_BATCH_CALLS} calls; this one has ${paths.length}.`);
  }
  return readLimitedBody(req, bodyLimitFor(paths));
}
