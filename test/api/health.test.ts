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
    // no trainer runs here: still 200 (votes are taken), but not "ok" (see the parts test below)
    expect(body.status).toBe("degraded");
    expect(body.database.ok).toBe(true);
    expect(body.database.latencyMs).toBeGreaterThanOrEqual(0);
    expect(body.version).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe("GET /api/health parts (issue 16 item 9)", () => {
  type Body = {
    status: string;
    parts: {
      web: { ok: boolean; pid: number };
      database: { ok: boolean };
      sampler: { ok: boolean; state: string };
      trainer: { ok: boolean; running: number; workers: { workerId: string; alive: boolean }[] };
      embeddedPostgres?: { ok: boolean; startedAt: string | null };
    };
  };
  const get = async (): Promise<{ status: number; body: Body }> => {
    const { GET } = await import("../../src/app/api/health/route.ts");
    const res = await GET(new Request("http://localhost/api/health"));
    return { status: res.status, body: (await res.json()) as Body };
  };

  it("reports web, database, sampler and trainer; a silent trainer makes it degraded, not down", async () => {
    process.env.DATABASE_URL = t.url;
    delete process.env.DATABASE_EMBEDDED;
    resetEnvCache();
    await t.db.trainerHeartbeat.deleteMany();
    let r = await get();
    expect(r.status).toBe(200);
    expect(r.body.parts.web).toMatchObject({ ok: true, pid: process.pid });
    expect(r.body.parts.database.ok).toBe(true);
    expect(r.body.parts.sampler).toMatchObject({ ok: true, state: "idle" });
    expect(r.body.parts.trainer).toMatchObject({ ok: false, running: 0 });
    expect(r.body.status).toBe("degraded");
    expect(r.body.parts.embeddedPostgres).toBeUndefined();

    const now = Date.now();
    await t.db.trainerHeartbeat.createMany({
      data: [
        { workerId: "t-live", pid: 1, host: "h", startedAt: new Date(now - 30_000), seenAt: new Date(now - 1000) },
        { workerId: "t-dead", pid: 2, host: "h", startedAt: new Date(now - 600_000), seenAt: new Date(now - 120_000) },
      ],
    });
    r = await get();
    expect(r.body.status).toBe("ok");
    expect(r.body.parts.trainer.running).toBe(1);
    expect(r.body.parts.trainer.workers.map((w) => [w.workerId, w.alive])).toEqual([
      ["t-live", true],
      ["t-dead", false],
    ]);
  });

  it("reports the embedded PostgreSQL (with its start time) when npm start runs one", async () => {
    process.env.DATABASE_URL = t.url;
    process.env.DATABASE_EMBEDDED = "true";
    resetEnvCache();
    try {
      const r = await get();
      expect(r.body.parts.embeddedPostgres?.ok).toBe(true);
      expect(Date.parse(r.body.parts.embeddedPostgres?.startedAt ?? "")).toBeLessThan(Date.now());
    } finally {
      delete process.env.DATABASE_EMBEDDED;
      resetEnvCache();
    }
  });
});
