// Issue 16 item 11: HSTS and a Content-Security-Policy on every page; votes commit
// synchronously whatever the server's or database's default says.

import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import config from "../../next.config.js";
import { createPrismaClient } from "../../src/server/db/client.ts";
import { listenHost, parseEnv } from "../../src/server/env.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

describe("security headers", () => {
  it("sends HSTS and a CSP that allows only this origin's scripts, styles and connections", async () => {
    const rules = await config.headers!();
    const all = rules.find((r) => r.source === "/:path*")!.headers;
    const get = (k: string) => all.find((h) => h.key.toLowerCase() === k.toLowerCase())?.value ?? "";
    expect(get("Strict-Transport-Security")).toMatch(/max-age=\d{7,}/);
    const csp = get("Content-Security-Policy");
    for (const directive of [
      "default-src 'self'",
      "script-src 'self'",
      "object-src 'none'",
      "base-uri 'self'",
      "frame-ancestors 'none'",
      "form-action 'self'",
      "connect-src 'self'",
    ]) {
      expect(csp).toContain(directive);
    }
  });
});

describe("listen address", () => {
  it("is 127.0.0.1 behind a proxy unless HOST says otherwise, all interfaces when exposed directly", () => {
    expect(listenHost(parseEnv({}))).toBeUndefined(); // Next.js's default: every interface
    expect(listenHost(parseEnv({ TRUSTED_PROXIES: "1" }))).toBe("127.0.0.1");
    expect(listenHost(parseEnv({ TRUSTED_PROXIES: "1", HOST: "10.0.0.5" }))).toBe("10.0.0.5");
  });
});

describe("synchronous commit", () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(() => t?.drop());

  it("is on for the app's connections even when the database default turns it off", async () => {
    const admin = new pg.Client({ connectionString: t.url });
    await admin.connect();
    const dbName = new URL(t.url).pathname.slice(1);
    await admin.query(`ALTER DATABASE "${dbName}" SET synchronous_commit = off`);
    await admin.end();
    const db = createPrismaClient(t.url);
    try {
      const rows = await db.$queryRaw<{ synchronous_commit: string }[]>`SHOW synchronous_commit`;
      expect(rows[0]!.synchronous_commit).toBe("on");
    } finally {
      await db.$disconnect();
    }
  });
});
