// Issue 16 item 1: a body is refused by its size before it is read, a batch by its length before
// any call runs, an import by its size before it is parsed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTrpcRequestHandler } from "../../src/server/routers/handler.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { BASE_URL, createUser, httpClient } from "./fixtures.ts";

let t: TestDatabase;
let adminCookie: string;
beforeAll(async () => {
  t = await createTestDatabase();
  adminCookie = (await createUser(t.db, { role: "ADMIN" })).cookie;
});
afterAll(() => t?.drop());

/** A body that counts how many bytes the server pulled from it. */
function countingBody(totalBytes: number, chunkBytes = 64 * 1024) {
  let pulled = 0;
  const chunk = new Uint8Array(chunkBytes).fill(0x61);
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled >= totalBytes) return controller.close();
      pulled += chunk.length;
      controller.enqueue(chunk);
    },
  });
  return { stream, pulled: () => pulled };
}

function post(path: string, body: BodyInit, headers: Record<string, string> = {}) {
  return new Request(`${BASE_URL}/api/trpc/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", host: "arena.test", origin: BASE_URL, ...headers },
    body,
    duplex: "half",
  } as RequestInit);
}

describe("request body limits", () => {
  it("refuses a sign-in whose declared length is too big with 413, without reading the body", async () => {
    const handle = createTrpcRequestHandler({ db: t.db, sessionTtlHours: 24 });
    const body = countingBody(200 * 1024 * 1024);
    const res = await handle(post("auth.signIn", body.stream, { "content-length": String(200 * 1024 * 1024) }));
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/too large/i);
    // A Request may buffer a chunk or two; it must not have read the 200 MB.
    expect(body.pulled()).toBeLessThan(1024 * 1024);
  });

  it("stops reading a body without a declared length as soon as it passes the limit", async () => {
    const handle = createTrpcRequestHandler({ db: t.db, sessionTtlHours: 24 });
    const body = countingBody(200 * 1024 * 1024);
    const res = await handle(post("auth.signIn", body.stream));
    expect(res.status).toBe(413);
    expect(body.pulled()).toBeLessThan(1024 * 1024);
  });

  it("still accepts ordinary bodies", async () => {
    const client = httpClient(t.db);
    const res = await client.mutate("auth.signIn", { username: "nobody-here", password: "wrong password" });
    expect(res.status).toBe(401);
  });

  it("refuses a batch of more calls than allowed before running any", async () => {
    const client = httpClient(t.db);
    const paths = Array.from({ length: 200 }, () => "auth.signIn").join(",");
    const input = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [i, { json: { username: "nobody", password: `guess${i}` } }]));
    const res = await client.rawPost(`${paths}?batch=1`, JSON.stringify(input), { headers: { origin: BASE_URL } });
    expect(res.status).toBe(400);
    expect(res.text).toMatch(/at most \d+ calls/i);
  });

  it("refuses an import bigger than the import limit with 413 before parsing it", async () => {
    const client = httpClient(t.db);
    const content = "a prompt line\n".repeat(1_000_000); // 14 MB
    const res = await client.mutate("prompts.import", { content }, { cookie: adminCookie });
    expect(res.status).toBe(413);
    expect(res.text).toMatch(/too large/i);
  });

  it("accepts an import within the limit that is bigger than the default body limit", async () => {
    const client = httpClient(t.db);
    const content = Array.from({ length: 5_000 }, (_, i) => `limit test prompt number ${i}`).join("\n");
    const res = await client.mutate("prompts.import", { content, format: "text" }, { cookie: adminCookie });
    expect(res.status).toBe(200);
  });
});
