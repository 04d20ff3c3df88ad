// Every procedure is covered automatically: new routers built from the shared procedure
// builders appear in appRouter._def.procedures and are checked here without edits.

import { TRPCError } from "@trpc/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appRouter } from "../../src/server/routers/_app.ts";
import type { Access } from "../../src/server/trpc.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { callerFor, createUser, httpClient } from "./fixtures.ts";

interface ProcedureInfo {
  path: string;
  type: "query" | "mutation" | "subscription";
  access: Access | undefined;
}

const procedures: ProcedureInfo[] = Object.entries(
  appRouter._def.procedures as unknown as Record<string, { _def: { type: ProcedureInfo["type"]; meta?: { access?: Access } } }>,
).map(([path, procedure]) => ({ path, type: procedure._def.type, access: procedure._def.meta?.access }));

function invoke(caller: unknown, path: string, input: unknown): Promise<unknown> {
  const fn = path.split(".").reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], caller);
  return (fn as (input: unknown) => Promise<unknown>)(input);
}

async function trpcCodeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "OK";
  } catch (err) {
    if (err instanceof TRPCError) return err.code;
    throw err;
  }
}

let t: TestDatabase;
let labelerCookie: string;
let adminCookie: string;

beforeAll(async () => {
  t = await createTestDatabase();
  labelerCookie = (await createUser(t.db, { role: "LABELER" })).cookie;
  adminCookie = (await createUser(t.db, { role: "ADMIN" })).cookie;
});
afterAll(() => t?.drop());

describe("procedure inventory", () => {
  it("finds the procedures and every one declares who may call it", () => {
    expect(procedures.map((p) => p.path)).toEqual(expect.arrayContaining(["auth.signIn", "auth.me", "users.list", "users.createLabeler"]));
    const undeclared = procedures.filter((p) => !p.access).map((p) => p.path);
    expect(undeclared, "build procedures from publicProcedure/labelerProcedure/adminProcedure").toEqual([]);
    expect(procedures.filter((p) => p.access === "admin").length).toBeGreaterThanOrEqual(4);
  });
});

describe("in-process caller", () => {
  const guarded = procedures.filter((p) => p.access !== "public");
  const adminOnly = procedures.filter((p) => p.access === "admin");

  it.each(guarded.map((p) => [p.path]))("anonymous is refused %s with UNAUTHORIZED", async (path) => {
    const { caller } = await callerFor(t.db);
    // Both a plausible and an empty input: authorization must run before validation.
    expect(await trpcCodeOf(invoke(caller, path, {}))).toBe("UNAUTHORIZED");
    expect(await trpcCodeOf(invoke(caller, path, { userId: "x", username: "someone", password: "long enough pw", disabled: true }))).toBe(
      "UNAUTHORIZED",
    );
  });

  it.each(adminOnly.map((p) => [p.path]))("a labeler is refused %s with FORBIDDEN", async (path) => {
    const { caller } = await callerFor(t.db, labelerCookie);
    expect(await trpcCodeOf(invoke(caller, path, {}))).toBe("FORBIDDEN");
  });

  it("an admin gets through to the procedure", async () => {
    const { caller } = await callerFor(t.db, adminCookie);
    const users = await caller.users.list();
    expect(users.length).toBeGreaterThanOrEqual(2);
  });

  it("a garbage cookie counts as anonymous", async () => {
    const { caller } = await callerFor(t.db, "dpo_session=not-a-real-token");
    expect((await caller.auth.me()).user).toBeNull();
    expect(await trpcCodeOf(caller.users.list())).toBe("UNAUTHORIZED");
  });
});

describe("over HTTP", () => {
  const call = (client: ReturnType<typeof httpClient>, p: ProcedureInfo, cookie?: string) =>
    p.type === "query" ? client.query(p.path, {}, { cookie }) : client.mutate(p.path, {}, { cookie });

  it("anonymous gets 401 from every labeler and admin procedure", async () => {
    const client = httpClient(t.db);
    for (const p of procedures.filter((x) => x.access !== "public")) {
      const res = await call(client, p);
      expect(res.status, p.path).toBe(401);
    }
  });

  it("a labeler gets 403 from every admin procedure", async () => {
    const client = httpClient(t.db);
    for (const p of procedures.filter((x) => x.access === "admin")) {
      const res = await call(client, p, labelerCookie);
      expect(res.status, p.path).toBe(403);
      expect(res.text).not.toMatch(/at .*\.ts:\d+/);
    }
  });
});
