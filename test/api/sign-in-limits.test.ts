// Issue 16 item 2: sign-in attempts are counted atomically before argon2 runs, per attacker
// address × username (the right password from elsewhere still works), in PostgreSQL (shared by
// every web replica), with the client address taken behind a configured number of proxies.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientAddressFrom } from "../../src/server/auth/client-address.ts";
import { createPrismaClient } from "../../src/server/db/client.ts";
import { signIn } from "../../src/server/services/auth/sign-in.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { createUser, httpClient } from "./fixtures.ts";

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t?.drop());

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => "OK",
    (e: { code?: string }) => e.code ?? String(e),
  );

describe("sign-in limits", () => {
  it("lets at most the limit of concurrent guesses reach the password check", async () => {
    const { user } = await createUser(t.db);
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        codeOf(signIn({ db: t.db, username: user.username, password: `guess-${i}`, ttlHours: 1, clientAddress: "198.51.100.7" })),
      ),
    );
    expect(results.filter((c) => c === "INVALID_CREDENTIALS").length).toBeLessThanOrEqual(10);
    expect(results.filter((c) => c === "RATE_LIMITED").length).toBeGreaterThanOrEqual(20);
  });

  it("locks out the attacker's address for that username, not the right password from elsewhere", async () => {
    const { user, password } = await createUser(t.db);
    const attempt = (pw: string, clientAddress: string) =>
      codeOf(signIn({ db: t.db, username: user.username, password: pw, ttlHours: 1, clientAddress }));
    for (let i = 0; i < 10; i++) expect(await attempt("wrong-password", "203.0.113.66")).toBe("INVALID_CREDENTIALS");
    expect(await attempt(password, "203.0.113.66")).toBe("RATE_LIMITED");
    expect(await attempt(password, "192.0.2.10")).toBe("OK");
  });

  it("keeps its counts in PostgreSQL, so another web process sees them", async () => {
    const { user, password } = await createUser(t.db);
    for (let i = 0; i < 10; i++)
      await codeOf(signIn({ db: t.db, username: user.username, password: "nope-nope", ttlHours: 1, clientAddress: "198.51.100.99" }));
    const replica = createPrismaClient(t.url);
    try {
      expect(await codeOf(signIn({ db: replica, username: user.username, password, ttlHours: 1, clientAddress: "198.51.100.99" }))).toBe(
        "RATE_LIMITED",
      );
      const rows = await replica.$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM "LoginThrottle"`;
      expect(rows[0]!.n).toBeGreaterThan(0);
    } finally {
      await replica.$disconnect();
    }
  });

  it("throttles password spraying that forges a fresh X-Forwarded-For each time", async () => {
    const client = httpClient(t.db);
    const statuses: number[] = [];
    for (let i = 0; i < 103; i++) {
      // What a client sends is on the left; the address the server saw is appended on the right.
      const res = await client.mutate(
        "auth.signIn",
        { username: `sprayed${i}`, password: "Winter2026!" },
        { headers: { "x-forwarded-for": `10.9.${i}.1, 203.0.113.200` } },
      );
      statuses.push(res.status);
    }
    expect(statuses.slice(0, 100).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(100)).toEqual([429, 429, 429]);
  });
});

describe("clientAddressFrom", () => {
  const h = (xff?: string) => new Headers(xff ? { "x-forwarded-for": xff } : {});
  it("takes the address the outermost trusted proxy saw, ignoring what the client prepended", () => {
    // No proxy: Next.js wrote the socket's address when the client sent no header.
    expect(clientAddressFrom(h("3.3.3.3"), 0)).toBe("3.3.3.3");
    // One proxy appended the peer it saw (3.3.3.3) to what the client sent.
    expect(clientAddressFrom(h("1.1.1.1, 2.2.2.2, 3.3.3.3"), 1)).toBe("3.3.3.3");
    expect(clientAddressFrom(h("1.1.1.1, 2.2.2.2, 3.3.3.3"), 2)).toBe("2.2.2.2");
    // Fewer entries than proxies: a misconfiguration; the leftmost is the best guess left.
    expect(clientAddressFrom(h("4.4.4.4"), 3)).toBe("4.4.4.4");
    expect(clientAddressFrom(h(), 1)).toBe("unknown");
  });
});
