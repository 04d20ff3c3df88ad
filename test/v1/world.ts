// A real HTTP server on a free port serving the app's real /v1 and export route modules (the
// same functions Next.js calls), on a fresh database seeded with the shipped house model and
// the process's real sampler (worker threads).
import type { PrismaClient } from "../../src/generated/prisma/client.ts";
import { resetEnvCache } from "../../src/server/env.ts";
import { getSampler } from "../../src/server/sampler/index.ts";
import { seed } from "../../src/server/seed.ts";
import { createApiKey } from "../../src/server/services/api-keys/keys.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { serveRoutes } from "./serve-routes.ts";

type RouteModule = { GET?: (req: Request) => Promise<Response>; POST?: (req: Request) => Promise<Response> };

export interface V1World {
  tdb: TestDatabase;
  db: PrismaClient;
  baseUrl: string;
  key(scopes: string[], opts?: { rateLimitPerMinute?: number }): Promise<string>;
  close(): Promise<void>;
}

/** `beforeSampler` runs on the seeded database before the sampler loads the serving version (e.g. to serve another model). */
export async function startV1World(opts: { beforeSampler?: (db: PrismaClient) => Promise<void> } = {}): Promise<V1World> {
  const tdb = await createTestDatabase();
  const saved = { DATABASE_URL: process.env.DATABASE_URL, SAMPLER_THREADS: process.env.SAMPLER_THREADS };
  process.env.DATABASE_URL = tdb.url;
  process.env.SAMPLER_THREADS = "1";
  resetEnvCache();
  await seed(tdb.db, { adminPassword: "admin-password-for-tests" });
  await opts.beforeSampler?.(tdb.db);
  const routes: Record<string, RouteModule> = {
    "/v1/models": await import("../../src/app/v1/models/route.ts"),
    "/v1/chat/completions": await import("../../src/app/v1/chat/completions/route.ts"),
    "/v1/completions": await import("../../src/app/v1/completions/route.ts"),
    "/v1/preferences": await import("../../src/app/v1/preferences/route.ts"),
    "/api/export/trl": await import("../../src/app/api/export/trl/route.ts"),
    "/api/export/battles": await import("../../src/app/api/export/battles/route.ts"),
    "/api/export/hf-preferences": await import("../../src/app/api/export/hf-preferences/route.ts"),
  };
  const sampler = await getSampler();
  for (let i = 0; i < 1200 && !sampler.registry.current(); i++) await new Promise((r) => setTimeout(r, 50));
  if (!sampler.registry.current()) throw new Error("the sampler did not load the serving model within 60 s");

  const server = await serveRoutes(async (request, url) => {
    const handler = routes[url.pathname]?.[request.method as "GET" | "POST"];
    return handler ? handler(request) : new Response(null, { status: routes[url.pathname] ? 405 : 404 });
  });
  const baseUrl = server.url;
  return {
    tdb,
    db: tdb.db,
    baseUrl,
    async key(scopes, opts = {}) {
      return (
        await createApiKey({ db: tdb.db, name: `test ${scopes.join("+")}`, scopes, rateLimitPerMinute: opts.rateLimitPerMinute ?? 1000 })
      ).key;
    },
    async close() {
      await server.close();
      await sampler.close();
      (globalThis as { __dpoArenaSampler?: unknown }).__dpoArenaSampler = undefined;
      for (const [k, v] of Object.entries(saved))
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      resetEnvCache();
      await tdb.drop();
    },
  };
}

/** Parses an SSE body the way the OpenAI SDK does: `data:` lines, JSON until `[DONE]`. */
export async function readSse(res: Response): Promise<{ events: unknown[]; done: boolean }> {
  const events: unknown[] = [];
  let done = false;
  let buffer = "";
  const decoder = new TextDecoder();
  const reader = res.body!.getReader();
  for (;;) {
    const { value, done: end } = await reader.read();
    if (end) break;
    buffer += decoder.decode(value, { stream: true });
    for (let cut = buffer.indexOf("\n\n"); cut >= 0; cut = buffer.indexOf("\n\n")) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = block
        .split("\n")
        .filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).replace(/^ /, ""))
        .join("\n");
      if (!data) continue;
      if (data === "[DONE]") {
        done = true;
        continue;
      }
      if (done) throw new Error("an event arrived after [DONE]");
      events.push(JSON.parse(data));
    }
  }
  if (buffer.trim()) throw new Error(`unterminated SSE event: ${buffer}`);
  return { events, done };
}
