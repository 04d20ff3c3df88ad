// An HTTP client for the running product that speaks exactly what the browser speaks: tRPC's
// batched HTTP wire format (httpBatchLink, one call per request) with superjson, the session
// cookie set by auth.signIn, an Origin header matching the host (the CSRF rule), and the
// battle stream over server-sent events. Written without @trpc/client so that src/sim stays a
// plain library (no tRPC code), and so that the wire format itself is what the sim exercises.
import superjson from "superjson";

export class ProductError extends Error {
  constructor(
    message: string,
    readonly path: string,
    readonly httpStatus: number,
    readonly code: string,
  ) {
    super(message);
    this.name = "ProductError";
  }
}

export interface ClientOptions {
  /** e.g. http://127.0.0.1:3000 */
  baseUrl: string;
  /** per-request timeout; sampling happens on the stream, so calls themselves are short */
  timeoutMs?: number;
}

export interface BattleTexts {
  A: string;
  B: string;
}

export type BattleStreamResult = { status: "ready"; texts: BattleTexts } | { status: "failure"; message: string };

export class ProductClient {
  readonly baseUrl: string;
  private readonly origin: string;
  private readonly timeoutMs: number;
  private cookies = new Map<string, string>();

  constructor(opts: ClientOptions) {
    const url = new URL(opts.baseUrl);
    this.baseUrl = url.origin;
    this.origin = url.origin;
    this.timeoutMs = opts.timeoutMs ?? 60_000;
  }

  private cookieHeader(): string | undefined {
    if (this.cookies.size === 0) return undefined;
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }

  private storeCookies(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(";");
      const eq = pair.indexOf("=");
      if (eq < 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === "";
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { origin: this.origin, ...extra };
    const cookie = this.cookieHeader();
    if (cookie) h.cookie = cookie;
    return h;
  }

  /** A tRPC call as httpBatchLink sends it: `?batch=1`, inputs keyed "0", superjson-encoded. */
  private async call<T>(type: "query" | "mutation", path: string, input: unknown): Promise<T> {
    const encoded = superjson.serialize(input);
    const batch = JSON.stringify({ 0: encoded });
    let res: Response | undefined;
    const url = `${this.baseUrl}/api/trpc/${path}?batch=1`;
    for (let attempt = 0; !res; attempt++) {
      try {
        res =
          type === "query"
            ? await fetch(`${url}&input=${encodeURIComponent(batch)}`, {
                headers: this.headers(),
                signal: AbortSignal.timeout(this.timeoutMs),
              })
            : await fetch(url, {
                method: "POST",
                headers: this.headers({ "content-type": "application/json" }),
                body: batch,
                signal: AbortSignal.timeout(this.timeoutMs),
              });
      } catch (err) {
        // A kept-alive connection the server closed while idle fails before the request is
        // read; one retry on a fresh connection is safe (votes carry an idempotency key).
        const cause = (err as { cause?: { code?: string } }).cause?.code;
        if (attempt === 0 && (cause === "UND_ERR_SOCKET" || cause === "ECONNRESET")) continue;
        throw new ProductError(
          `${path}: could not reach ${this.baseUrl} (${(err as Error).message}${cause ? `, ${cause}` : ""})`,
          path,
          0,
          "NETWORK",
        );
      }
    }
    this.storeCookies(res);
    const raw = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      throw new ProductError(`${path}: HTTP ${res.status} with a non-JSON body: ${raw.slice(0, 200)}`, path, res.status, "BAD_RESPONSE");
    }
    // Refusals outside tRPC (CSRF, handler failure) are a plain {error:{message,code}} object.
    const item = (Array.isArray(body) ? body[0] : body) as
      | {
          result?: { data: { json: unknown; meta?: unknown } };
          error?: { json?: { message: string; data?: { code?: string; httpStatus?: number } }; message?: string; code?: string };
        }
      | undefined;
    if (item?.result) return superjson.deserialize(item.result.data as Parameters<typeof superjson.deserialize>[0]) as T;
    const e = item?.error;
    const message = e?.json?.message ?? e?.message ?? `HTTP ${res.status}`;
    const code = e?.json?.data?.code ?? e?.code ?? "UNKNOWN";
    throw new ProductError(`${path}: ${message}`, path, e?.json?.data?.httpStatus ?? res.status, code);
  }

  query<T>(path: string, input?: unknown): Promise<T> {
    return this.call<T>("query", path, input);
  }

  mutation<T>(path: string, input?: unknown): Promise<T> {
    return this.call<T>("mutation", path, input);
  }

  async signIn(username: string, password: string): Promise<{ user: { id: string; username: string; role: string } }> {
    const out = await this.mutation<{ user: { id: string; username: string; role: string } }>("auth.signIn", { username, password });
    if (this.cookies.size === 0) throw new ProductError("auth.signIn: the server set no session cookie", "auth.signIn", 200, "NO_COOKIE");
    return out;
  }

  /**
   * Follows /api/battles/<id>/stream (as the arena page does) until the vote opens (`ready`) or
   * sampling fails. The final texts are those of the `done` events, which are what was stored.
   */
  async streamBattle(battleId: string, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<BattleStreamResult> {
    const signals = [AbortSignal.timeout(opts.timeoutMs ?? 10 * 60_000)];
    if (opts.signal) signals.push(opts.signal);
    const res = await fetch(`${this.baseUrl}/api/battles/${encodeURIComponent(battleId)}/stream`, {
      headers: this.headers({ accept: "text/event-stream" }),
      signal: AbortSignal.any(signals),
    });
    if (!res.ok || !res.body) {
      const text = await res.text().catch(() => "");
      throw new ProductError(`battle stream ${battleId}: HTTP ${res.status} ${text.slice(0, 200)}`, "battles.stream", res.status, "STREAM");
    }
    const texts: Partial<BattleTexts> = {};
    const decoder = new TextDecoder();
    let buffer = "";
    const reader = res.body.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(frame)?.[1];
          const dataLine = /^data: (.*)$/m.exec(frame)?.[1];
          const data = dataLine ? (JSON.parse(dataLine) as { slot?: "A" | "B"; text?: string; message?: string }) : {};
          if (event === "done" && data.slot) texts[data.slot] = data.text ?? "";
          else if (event === "failure") return { status: "failure", message: data.message ?? "sampling failed" };
          else if (event === "ready") {
            if (texts.A === undefined || texts.B === undefined)
              return { status: "failure", message: "stream said ready before both completions were done" };
            return { status: "ready", texts: { A: texts.A, B: texts.B } };
          }
        }
      }
    } finally {
      await reader.cancel().catch(() => {});
    }
    return { status: "failure", message: "the stream ended before the battle was ready" };
  }
}
