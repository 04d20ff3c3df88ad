// Issue 16 item 10: small hostile inputs get a clear 4xx or a bounded answer, never a 500.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_SETTINGS } from "../../src/server/seed.ts";
import { nextBattle } from "../../src/server/services/battles/assign.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { registerTinyHouse, TINY_CONFIG } from "../loop/fixtures.ts";
import { createUser, errorOf, httpClient } from "./fixtures.ts";

let t: TestDatabase;
let adminCookie: string;
beforeAll(async () => {
  t = await createTestDatabase();
  await t.db.setting.createMany({ data: Object.entries(DEFAULT_SETTINGS).map(([key, value]) => ({ key, value: value as object })) });
  adminCookie = (await createUser(t.db, { role: "ADMIN" })).cookie;
  await registerTinyHouse(t.db); // serving, context of TINY_CONFIG.nPositions tokens
});
afterAll(() => t?.drop());

describe("NUL bytes in admin fields", () => {
  it.each([
    ["prompt search", () => httpClient(t.db).query("prompts.list", { search: "a\u0000b" }, { cookie: adminCookie })],
    [
      "import file name",
      () => httpClient(t.db).mutate("prompts.import", { content: "fine prompt", filename: "x\u0000.txt" }, { cookie: adminCookie }),
    ],
    ["round id", () => httpClient(t.db).query("rounds.get", { roundId: "r\u0000" }, { cookie: adminCookie })],
  ])("%s: 400 naming the field", async (_label, send) => {
    const res = await send();
    expect(res.status).toBe(400);
    expect(errorOf(res).message).toMatch(/NUL/);
  });
});

describe("prompt import", () => {
  it("treats lines that differ only in lone surrogates as the duplicates they become once stored", async () => {
    const res = await httpClient(t.db).mutate(
      "prompts.import",
      { content: "lonely \uD800 here\nlonely \uDC00 here", format: "text" },
      { cookie: adminCookie },
    );
    expect(res.status).toBe(200);
    const report = (res.body as { result: { data: { json: { added: number; rejected: { reason: string }[] } } } }).result.data.json;
    expect(report.added).toBe(1);
    expect(await t.db.prompt.count({ where: { text: "lonely \uFFFD here" } })).toBe(1);
  });

  it("refuses prompts that do not fit the served model's context, saying so", async () => {
    const tooLong = "w".repeat(TINY_CONFIG.nPositions);
    const res = await httpClient(t.db).mutate(
      "prompts.import",
      { content: `short one\n${tooLong}`, format: "text" },
      { cookie: adminCookie },
    );
    const report = (res.body as { result: { data: { json: { added: number; rejected: { line: number; reason: string }[] } } } }).result.data
      .json;
    expect(report.added).toBe(1);
    expect(report.rejected).toEqual([expect.objectContaining({ line: 2, reason: expect.stringMatching(/context/) })]);
  });

  it("answers a 2 M-character import of bad lines with a bounded report and the total", async () => {
    const content = "bad\u0000\n".repeat(400_000);
    const res = await httpClient(t.db).mutate("prompts.import", { content, format: "text" }, { cookie: adminCookie });
    expect(res.status).toBe(200);
    expect(res.text.length).toBeLessThan(500_000);
    const report = (res.body as { result: { data: { json: { rejected: unknown[]; rejectedTotal: number } } } }).result.data.json;
    expect(report.rejected.length).toBeLessThanOrEqual(1000);
    expect(report.rejectedTotal).toBe(400_000);
  });
});

describe("assignment", () => {
  it("skips a pool prompt that does not fit the serving model's context instead of failing its battle", async () => {
    await t.db.prompt.updateMany({ data: { enabled: false } });
    // Written directly (as an older import could have): longer than the context.
    await t.db.prompt.create({ data: { text: "z".repeat(TINY_CONFIG.nPositions + 10), source: "test" } });
    const labeler = await createUser(t.db);
    expect((await nextBattle({ db: t.db, labelerId: labeler.user.id })).status).toBe("empty");
    await t.db.prompt.create({ data: { text: "fits", source: "test" } });
    const r = await nextBattle({ db: t.db, labelerId: labeler.user.id });
    expect(r.status === "battle" && r.battle.promptText).toBe("fits");
  });
});
