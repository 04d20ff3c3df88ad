// Serves Web-standard route handlers (Request → Response: what Next.js route modules export) on
// a node:http server on a free port, so tests reach the app's real routes over real HTTP. The
// client's disconnect aborts the Request's signal and the Response body streams back as it is
// produced (SSE), stopping when the client goes.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";

export interface RouteServer {
  /** http://127.0.0.1:<port> */
  url: string;
  close(): Promise<void>;
}

/** `urlBase` is what the handlers see as the request URL's origin (its path and query are the client's). */
export async function serveRoutes(
  respond: (request: Request, url: URL) => Promise<Response>,
  urlBase = "http://127.0.0.1",
): Promise<RouteServer> {
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", urlBase);
    const abort = new AbortController();
    res.on("close", () => abort.abort());
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers.set(k, v);
    const body = req.method === "POST" ? (Readable.toWeb(req) as ReadableStream<Uint8Array>) : undefined;
    const response = await respond(
      new Request(url, { method: req.method, headers, body, signal: abort.signal, duplex: "half" } as RequestInit),
      url,
    );
    res.writeHead(response.status, Object.fromEntries(response.headers));
    if (!response.body) return void res.end();
    const reader = response.body.getReader();
    res.on("close", () => void reader.cancel().catch(() => {}));
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (done) break;
      res.write(value);
    }
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
