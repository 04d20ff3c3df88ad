// Issue 16 item 9: a terminated database backend (a restart, a failover, an admin's
// pg_terminate_backend) fails no request that is safe to retry: reads are retried once on a
// fresh connection.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser, httpClient } from "../api/fixtures.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

let t: TestDatabase;
let adminCookie: string;
beforeAll(async () => {
  t = await createTestDatabase();
  adminCookie = (await createUser(t.db, { role: "ADMIN" })).cookie;
});
afterAll(() => t?.drop());

describe("terminated database connections", () => {
  it("answers reads that were running when their connection was terminated", async () => {
    const client = httpClient(t.db);
    const killer = new pg.Client({ connectionString: t.url });
    await killer.connect();
    const dbName = new URL(t.url).pathname.slice(1);
    try {
      const statuses: number[] = [];
      for (let round = 0; round < 5; round++) {
        const requests = Array.from({ length: 8 }, () => client.query("prompts.list", {}, { cookie: adminCookie }));
        // Terminate every app connection while those requests are in flight.
        await killer.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [
          dbName,
        ]);
        statuses.push(...(await Promise.all(requests)).map((r) => r.status));
      }
      expect(statuses.filter((s) => s !== 200)).toEqual([]);
    } finally {
      await killer.end();
    }
  }, 60_000);
});
