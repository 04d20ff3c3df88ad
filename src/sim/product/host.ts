// A lightweight web host for the product's HTTP API without a Next.js production build: a
// node:http server that hands /api/trpc/*, /api/battles/<id>/stream and /api/health to the very
// route handlers `next start` serves (src/app/api/**/route.ts), with the same Request/Response
// objects. The sim's CI test uses it (a fresh clone has no build), and `npm run sim -- --web host`
// uses it when the shared .next build is missing or stale. Pages are not served: labelers
// only need the API. Run as a child process: `node --import tsx src/sim/product/host.ts`
// with DATABASE_URL and PORT set.
import http from "node:http";
import { Readable } from "node:stream";

type Handler = (req: Request, ctx: { params: Promise<Record<string, string>> }) => Promise<Response>;

async function loadRoutes(): Promise<{ trpc: Handler; stream: Handler; health: Handler }> {
  const trpc = await import("../../app/api/trpc/[trpc]/route.ts");
  const stream = await import("../../app/api/battles/[id]/stream/route.ts");
  const health = await import("../../app/api/health/route.ts");
  return { trpc: trpc.POST as unknown as Handler, stream: stream.GET as unknown as Handler, health: health.GET as unknown as Handler };
}

function toRequest(req: http.IncomingMessage, origin: string): Request {
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (Array.isArray(v)) v.forEach((x) => headers.append(k, x));
    else if (v !== undefined) headers.set(k, v);
  }
  const hasBody = req.method !== "GET" && req.method !== "HEAD";
  return new Request(new URL(req.url ?? "/", origin), {
    method: req.method,
    headers,
    body: hasBody ? (Readable.toWeb(req) as ReadableStream<Uint8Array>) : undefined,
    duplex: hasBody ? "half" : undefined,
  } as RequestInit);
}

async function send(res: http.ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, key) => {
    if (key !== "set-cookie") headers[key] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length) headers["set-cookie"] = cookies;
  res.writeHead(response.status, headers);
  if (!response.body) return void res.end();
  const reader = response.body.getReader();
  // A client that hangs up (a labeler stopping) cancels the handler's stream.
  res.on("close", () => void reader.cancel().catch(() => {}));
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    res.write(value);
  }
  res.end();
}

export async function startHost(port: number): Promise<http.Server> {
  const routes = await loadRoutes();
  const origin = `http://127.0.0.1:${port}`;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", origin);
    const streamMatch = /^\/api\/battles\/([^/]+)\/stream$/.exec(url.pathname);
    let handler: Handler | undefined;
    let params: Record<string, string> = {};
    if (url.pathname.startsWith("/api/trpc/")) {
      handler = routes.trpc;
      params = { trpc: url.pathname.slice("/api/trpc/".length) };
    } else if (streamMatch && req.method === "GET") {
      handler = routes.stream;
      params = { id: decodeURIComponent(streamMatch[1]) };
    } else if (url.pathname === "/api/health" || url.pathname === "/") {
      handler = routes.health;
    }
    if (!handler) {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: `the sim host serves only the API, not ${url.pathname}` } }));
      return;
    }
    const h = handler;
    void (async () => {
      try {
        await send(res, await h(toRequest(req, origin), { params: Promise.resolve(params) }));
      } catch (err) {
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: `host: ${(err as Error).message}` } }));
      }
    })();
  });
  // Longer than clients keep idle connections, so the server is not the side that closes
  // one just as a request is sent on it.
  server.keepAliveTimeout = 75_000;
  server.headersTimeout = 80_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return server;
}

const isMain = process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/\\/g, "/"));
if (isMain) {
  const port = Number(process.env.PORT);
  if (!Number.isInteger(port) || port <= 0) {
    process.stderr.write("host: set PORT to the TCP port to listen on\n");
    process.exit(2);
  }
  const server = await startHost(port);
  process.stdout.write(`host listening on http://127.0.0.1:${port}\n`);
  const stop = () => server.close(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
