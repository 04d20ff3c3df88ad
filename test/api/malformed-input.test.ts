// Hundreds of malformed requests against the real HTTP handler: each must be a 4xx with a
// message, never a 5xx and never a stack trace.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrismaClient } from "../../src/server/db/client.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { createUser, errorOf, type HttpResult, httpClient } from "./fixtures.ts";

let t: TestDatabase;
let adminCookie: string;
beforeAll(async () => {
  t = await createTestDatabase();
  adminCookie = (await createUser(t.db, { role: "ADMIN" })).cookie;
});
afterAll(() => t?.drop());

const HUGE = "x".repeat(1_000_000);
const LONG = "y".repeat(10_000);
const WRONG_TYPES: unknown[] = [
  null,
  0,
  -1,
  3.5,
  1e308,
  true,
  false,
  "",
  "t",
  [],
  [1, 2],
  {},
  { nested: { deep: [null] } },
  "\u0000",
  LONG,
  HUGE,
];

type Kind = "query" | "mutation";
interface Case {
  label: string;
  run: (client: ReturnType<typeof httpClient>) => Promise<HttpResult>;
}

/** Every field replaced by every wrong value, every field missing, an unknown extra field. */
function objectCases(path: string, kind: Kind, valid: Record<string, unknown>): Case[] {
  const cases: Case[] = [];
  const send = (input: unknown) => (client: ReturnType<typeof httpClient>) =>
    kind === "query" ? client.query(path, input, { cookie: adminCookie }) : client.mutate(path, input, { cookie: adminCookie });
  for (const field of Object.keys(valid)) {
    for (const bad of WRONG_TYPES) {
      if (typeof valid[field] === typeof bad && typeof bad !== "string") continue;
      cases.push({ label: `${path} ${field}=${JSON.stringify(bad)?.slice(0, 30)}`, run: send({ ...valid, [field]: bad }) });
    }
    const { [field]: _omitted, ...rest } = valid;
    cases.push({ label: `${path} missing ${field}`, run: send(rest) });
  }
  cases.push({ label: `${path} extra field`, run: send({ ...valid, isAdmin: true }) });
  for (const bad of [null, 0, "text", [], true]) cases.push({ label: `${path} input=${JSON.stringify(bad)}`, run: send(bad) });
  return cases;
}

/** Procedures whose input is an optional empty object refuse anything else. */
function emptyInputCases(path: string, kind: Kind): Case[] {
  return [null, 0, "text", [1], true, { unexpected: 1 }, HUGE].map((bad) => ({
    label: `${path} input=${JSON.stringify(bad).slice(0, 30)}`,
    run: (client) =>
      kind === "query" ? client.query(path, bad, { cookie: adminCookie }) : client.mutate(path, bad, { cookie: adminCookie }),
  }));
}

const UNKNOWN_ID = "cm0000000000000000unknown";

const cases: Case[] = [
  ...objectCases("auth.signIn", "mutation", { username: "someone", password: "password123" }),
  ...objectCases("users.createLabeler", "mutation", { username: "newperson", password: "password123" }),
  ...objectCases("users.setDisabled", "mutation", { userId: UNKNOWN_ID, disabled: true }),
  ...objectCases("users.resetPassword", "mutation", { userId: UNKNOWN_ID, password: "password123" }),
  ...emptyInputCases("users.list", "query"),
  ...emptyInputCases("auth.me", "query"),
  ...emptyInputCases("auth.signOut", "mutation"),
  // Rule violations with the right types.
  ...[
    { username: "ab", password: "password123" },
    { username: "has space", password: "password123" },
    { username: "semi;colon", password: "password123" },
    { username: "newperson2", password: "short" },
    { username: "newperson3", password: "p".repeat(201) },
    { username: "   ", password: "password123" },
  ].map(
    (input): Case => ({
      label: `createLabeler ${JSON.stringify(input).slice(0, 40)}`,
      run: (c) => c.mutate("users.createLabeler", input, { cookie: adminCookie }),
    }),
  ),
  // Unknown ids of a valid shape.
  ...["x", UNKNOWN_ID, "00000000-0000-0000-0000-000000000000", '\'; DROP TABLE "User"; --'].flatMap((id): Case[] => [
    {
      label: `setDisabled unknown ${id}`,
      run: (c) => c.mutate("users.setDisabled", { userId: id, disabled: false }, { cookie: adminCookie }),
    },
    {
      label: `resetPassword unknown ${id}`,
      run: (c) => c.mutate("users.resetPassword", { userId: id, password: "password123" }, { cookie: adminCookie }),
    },
  ]),
  // Bodies that are not a tRPC envelope at all.
  ...[
    "",
    "{",
    "not json",
    "[]",
    "null",
    "42",
    '"str"',
    '{"json":',
    '{"json": {"username": "a"',
    '{"json":{"username":"abc","password":"password123"},"meta":{"values":{"username":["Date"]}}}',
    '{"json":{"username":"abc","password":"password123"},"meta":{"values":{"password":["bogus-type"]}}}',
    '{"json":{},"meta":"weird"}',
    "\u0000\u0001",
    HUGE,
  ].map(
    (body): Case => ({
      label: `raw body ${JSON.stringify(body.slice(0, 30))}`,
      run: (c) => c.rawPost("users.createLabeler", body, { cookie: adminCookie }),
    }),
  ),
  ...["{", "%7B%22json%22", "%ZZ", "null", "%7B%22json%22%3A%7B%22x%22%3A1%7D%7D"].map(
    (input): Case => ({
      label: `GET input=${input}`,
      run: (c) =>
        c.send(
          new Request(`http://arena.test/api/trpc/users.list?input=${input}`, { headers: { host: "arena.test", cookie: adminCookie } }),
        ),
    }),
  ),
  // Paths and batches that do not exist or do not parse.
  { label: "unknown procedure", run: (c) => c.mutate("users.deleteEverything", {}, { cookie: adminCookie }) },
  { label: "unknown router", run: (c) => c.query("nope.list", {}, { cookie: adminCookie }) },
  { label: "bad batch body", run: (c) => c.rawPost("users.createLabeler,users.setDisabled?batch=1", '{"0":', { cookie: adminCookie }) },
  {
    label: "batch of bad inputs",
    run: (c) => c.rawPost("users.createLabeler,users.setDisabled?batch=1", '{"0":{"json":1},"1":{"json":"x"}}', { cookie: adminCookie }),
  },
];

describe("malformed input over HTTP", () => {
  it(`${cases.length} malformed requests all get a 4xx with a message`, async () => {
    expect(cases.length).toBeGreaterThanOrEqual(200);
    const client = httpClient(t.db);
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    for (const c of cases) {
      const res = await c.run(client);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const text = res.text;
      if (res.status < 400 || res.status >= 500) failures.push(`${c.label}: HTTP ${res.status} ${text.slice(0, 200)}`);
      else if (!/"message"\s*:\s*"[^"]+/.test(text)) failures.push(`${c.label}: no message in ${text.slice(0, 200)}`);
      else if (/\.ts:\d+|node_modules|"stack"/.test(text)) failures.push(`${c.label}: leaks internals ${text.slice(0, 200)}`);
    }
    expect(failures).toEqual([]);
    console.log(JSON.stringify({ malformedRequests: cases.length, statuses: Object.fromEntries(statuses) }));
    // Nothing was created by any of them.
    expect(await t.db.user.count()).toBe(1);
  });

  it("validation errors name the field", async () => {
    const res = await httpClient(t.db).mutate("users.createLabeler", { username: "ok-name", password: 12345 }, { cookie: adminCookie });
    expect(res.status).toBe(400);
    const error = (res.body as { error: { json: { message: string; data: { zodError: { fieldErrors: Record<string, string[]> } } } } })
      .error.json;
    expect(Object.keys(error.data.zodError.fieldErrors)).toEqual(["password"]);
    expect(error.message).toMatch(/^Invalid input: password:/);
  });
});

describe("internal failures", () => {
  // A client for a server that refuses connections: the database is unavailable (issue 16: a 503
  // the client may retry, not a 500).
  const unreachableDb = () => createPrismaClient("postgresql://postgres@127.0.0.1:1/nowhere");
  // A client for a database without the app's tables: every query fails inside Prisma with an
  // error that is nobody's fault but ours (a 500).
  const schemaLessDb = () => {
    const url = new URL(t.url);
    url.pathname = "/postgres";
    return createPrismaClient(url.toString());
  };
  const noInternals = /ECONNREFUSED|127\.0\.0\.1|prisma|relation|\.ts:\d+|"stack"/i;

  it("a failure inside a procedure is a 500 with a generic message and an error id, no internals", async () => {
    const db = schemaLessDb();
    try {
      const res = await httpClient(db).mutate("auth.signIn", { username: "someone", password: "password123" });
      expect(res.status).toBe(500);
      const error = errorOf(res);
      expect(error.message).toMatch(/^Something went wrong on our side \(error id [0-9a-f]{8}\)/);
      expect(error.errorId).toMatch(/^[0-9a-f]{8}$/);
      expect(res.text).not.toMatch(noInternals);
    } finally {
      await db.$disconnect();
    }
  });

  it("a database that does not answer is a 503 that says to try again, in a procedure and before one (reading the session)", async () => {
    const db = unreachableDb();
    try {
      const inProcedure = await httpClient(db).mutate("auth.signIn", { username: "someone", password: "password123" });
      const beforeProcedure = await httpClient(db).query("auth.me", undefined, { cookie: "dpo_session=some-token" });
      for (const res of [inProcedure, beforeProcedure]) {
        expect(res.status).toBe(503);
        expect(res.text).toMatch(/try again/);
        expect(res.text).not.toMatch(noInternals);
      }
    } finally {
      await db.$disconnect();
    }
  });
});
