// Covers procedures added later by other routers without edits: each must declare an input
// schema, and wrong-typed input must be a 4xx (never a 5xx, never reaching the service).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appRouter } from "../../src/server/routers/_app.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { createUser, httpClient } from "./fixtures.ts";

type ProcedureDef = { _def: { type: "query" | "mutation" | "subscription"; inputs: unknown[] } };
const procedures = Object.entries(appRouter._def.procedures as unknown as Record<string, ProcedureDef>);

let t: TestDatabase;
let adminCookie: string;
beforeAll(async () => {
  t = await createTestDatabase();
  adminCookie = (await createUser(t.db, { role: "ADMIN" })).cookie;
});
afterAll(() => t?.drop());

describe("every procedure", () => {
  it("declares a zod input", () => {
    const missing = procedures.filter(([, p]) => p._def.inputs.length === 0).map(([path]) => path);
    expect(missing, "add .input(z.object({...}).strict()) (optional() if it takes nothing)").toEqual([]);
  });

  it("answers wrong-typed input with a 4xx and a message", async () => {
    const client = httpClient(t.db);
    const wrong: unknown[] = [null, 0, "t", [1], true, "z".repeat(200_000)];
    const failures: string[] = [];
    for (const [path, p] of procedures) {
      if (p._def.type === "subscription") continue;
      for (const input of wrong) {
        const res =
          p._def.type === "query"
            ? await client.query(path, input, { cookie: adminCookie })
            : await client.mutate(path, input, { cookie: adminCookie });
        if (res.status < 400 || res.status >= 500 || !/"message"/.test(res.text)) {
          failures.push(`${path} ${JSON.stringify(input).slice(0, 20)}: HTTP ${res.status} ${res.text.slice(0, 160)}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });
});
