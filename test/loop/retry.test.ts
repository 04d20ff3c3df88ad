// Database outages are retried with backoff: a query issued while Postgres is unreachable
// succeeds once it is back; a real error (not an outage) is not retried.
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrismaClient } from "../../src/server/db/client.ts";
import { isTransientDbError, withDbRetry } from "../../src/server/services/rounds/retry.ts";
import { createTestDatabase, type TestDatabase, withDatabase } from "../helpers/db.ts";

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t?.drop();
});

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** A TCP relay to the real Postgres: "the database comes back" = the relay starts listening. */
function relayTo(target: URL, port: number): net.Server {
  return net
    .createServer((client) => {
      const upstream = net.connect(Number(target.port || 5432), target.hostname);
      client.pipe(upstream).pipe(client);
      const close = () => (client.destroy(), upstream.destroy());
      client.on("error", close);
      upstream.on("error", close);
    })
    .listen(port, "127.0.0.1");
}

describe("database outage", () => {
  it("retries until the database is reachable again", async () => {
    const port = await freePort();
    const url = new URL(t.url);
    const viaRelay = withDatabase(`postgresql://${url.username || "postgres"}@127.0.0.1:${port}/x`, url.pathname.slice(1));
    const db = createPrismaClient(viaRelay);
    const retries: number[] = [];
    let relay: net.Server | null = null;
    setTimeout(() => (relay = relayTo(url, port)), 600);
    try {
      const rows = await withDbRetry(() => db.$queryRaw<{ one: number }[]>`SELECT 1 AS one`, {
        baseMs: 100,
        attempts: 20,
        maxMs: 2000,
        onRetry: (_e, attempt) => retries.push(attempt),
      });
      expect(rows[0]?.one).toBe(1);
      expect(retries.length).toBeGreaterThan(0);
    } finally {
      await db.$disconnect();
      (relay as net.Server | null)?.close();
    }
  });

  it("does not retry real errors", async () => {
    let calls = 0;
    await expect(
      withDbRetry(async () => {
        calls++;
        return t.db.$queryRawUnsafe("SELECT * FROM no_such_table");
      }),
    ).rejects.toThrow(/no_such_table/);
    expect(calls).toBe(1);
    expect(isTransientDbError(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }))).toBe(true);
  });
});
