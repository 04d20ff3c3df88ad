// The real /api/health route module, against a fresh database.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resetEnvCache } from "../../src/server/env.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

let t: TestDatabase;
const savedUrl = process.env.DATABASE_URL;

beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  if (savedUrl === undefined) delete process.env.DATABASE_URL;
  else process.env.DATABASE_URL = savedUrl;
  resetEnvCache();
  await t?.drop();
});

describe("GET /api/health", () => {
  it("is 503 with a one-line reason when the database is not configured", async () => {
    delete process.env.DATABASE_URL;
    resetEnvCache();
    const { GET } = await import("../../src/app/api/health/route.ts");
    const res = await GET(new Request("http://localhost/api/health"));
    expect(res.status).toBe(503);
    expect(res.headers.get("cache-control")).toContain("no-store");
    const body = (await res.json()) as { status: string; database: { ok: boolean; error: string } };
    expect(body.status).toBe("unavailable");
    expect(body.database.ok).toBe(false);
    // A one-line reason (the full error is in the log), never a stack.
    expect(body.database.error.length).toBeGreaterThan(0);
    expect(body.database.error).not.toContain("\n");
    expect(JSON.stringify(body)).not.toMatch(/stack|\.ts:\d+/);
  });

  it("is 200 with the database latency and the app version when the database answers", async () => {
    process.env.DATABASE_URL = t.url;
    resetEnvCache();
    const { GET } = await import("../../src/app/api/health/route.ts");
    // a blocked event loop shows up in the next window's delay
    await GET(new Request("http://localhost/api/health?resetLoopDelay=1"));
    const until = performance.now() + 120;
    while (performance.now() < until); // block the loop for 120 ms
    await new Promise((r) => setTimeout(r, 30));
    const res = await GET(new Request("http://localhost/api/health"));
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      status: string;
      database: { ok: boolean; latencyMs: number };
      eventLoopDelayMs: { p50: number; p99: number; max: number };
      version: string;
    };
    expect(body.eventLoopDelayMs.max).toBeGreaterThanOrEqual(100);
    expect(body.eventLoopDelayMs.p50).toBeLessThanOrEqual(body.eventLoopDelayMs.max);
    expect(body.status).toBe("ok");
    expect(body.database.ok).toBe(true);
    expect(body.database.latencyMs).toBeGreaterThanOrEqual(0);
    expect(body.version).toMatch(/^\d+\.\d+\.\d+/);
  });
});
