import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkCsrf } from "../../src/server/auth/csrf.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { BASE_URL, createUser, httpClient, uniqueName } from "./fixtures.ts";

let t: TestDatabase;
let adminCookie: string;
beforeAll(async () => {
  t = await createTestDatabase();
  adminCookie = (await createUser(t.db, { role: "ADMIN" })).cookie;
});
afterAll(() => t?.drop());

describe("cross-site mutations", () => {
  it("a cross-origin POST is refused with 403 and changes nothing, even with a valid cookie", async () => {
    const username = uniqueName("evil");
    const res = await httpClient(t.db).mutate(
      "users.createLabeler",
      { username, password: "password123" },
      {
        cookie: adminCookie,
        headers: { origin: "https://evil.example" },
      },
    );
    expect(res.status).toBe(403);
    expect(res.text).toMatch(/Cross-origin/);
    expect(await t.db.user.count({ where: { username } })).toBe(0);
  });

  it("the same request from the app's own origin succeeds", async () => {
    const username = uniqueName("good");
    const res = await httpClient(t.db).mutate("users.createLabeler", { username, password: "password123" }, { cookie: adminCookie });
    expect(res.status).toBe(200);
    expect(await t.db.user.count({ where: { username } })).toBe(1);
  });

  it("refuses Sec-Fetch-Site: cross-site, an Origin of null, and a form-encoded POST", async () => {
    const client = httpClient(t.db);
    const input = { username: uniqueName("x"), password: "password123" };
    expect(
      (await client.mutate("users.createLabeler", input, { cookie: adminCookie, headers: { "sec-fetch-site": "cross-site" } })).status,
    ).toBe(403);
    expect((await client.mutate("users.createLabeler", input, { cookie: adminCookie, headers: { origin: "null" } })).status).toBe(403);
    const form = await client.send(
      new Request(`${BASE_URL}/api/trpc/users.createLabeler`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", cookie: adminCookie, host: "arena.test" },
        body: `username=${input.username}&password=password123`,
      }),
    );
    expect(form.status).toBe(415);
    expect(await t.db.user.count({ where: { username: input.username } })).toBe(0);
  });

  it("a mutation cannot be triggered with GET", async () => {
    const username = uniqueName("get");
    const res = await httpClient(t.db).query("users.createLabeler", { username, password: "password123" }, { cookie: adminCookie });
    expect(res.status).toBe(405);
    expect(await t.db.user.count({ where: { username } })).toBe(0);
  });
});

describe("checkCsrf", () => {
  const req = (headers: Record<string, string>, method = "POST") => ({
    method,
    url: "http://localhost:3000/api/trpc/x",
    headers: new Headers(headers),
  });

  it("accepts same-origin and origin-less JSON POSTs, and any GET", () => {
    expect(checkCsrf(req({ "content-type": "application/json", host: "localhost:3000", origin: "http://localhost:3000" })).ok).toBe(true);
    expect(checkCsrf(req({ "content-type": "application/json; charset=utf-8", host: "localhost:3000" })).ok).toBe(true);
    expect(checkCsrf(req({}, "GET")).ok).toBe(true);
  });

  it("compares against the proxy's forwarded host", () => {
    const headers = {
      "content-type": "application/json",
      host: "10.0.0.5:3000",
      "x-forwarded-host": "arena.example.org",
      origin: "https://arena.example.org",
    };
    expect(checkCsrf(req(headers)).ok).toBe(true);
    expect(checkCsrf(req({ ...headers, origin: "https://arena.example.org.evil.com" })).ok).toBe(false);
  });

  it("refuses a different port on the same host", () => {
    expect(checkCsrf(req({ "content-type": "application/json", host: "localhost:3000", origin: "http://localhost:4000" }))).toMatchObject({
      ok: false,
      status: 403,
    });
  });
});
