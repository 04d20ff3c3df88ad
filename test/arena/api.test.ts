// The arena, prompts and stats routers over the real tRPC fetch handler: field-level 4xx
// messages for bad input, roles, and the import report.

import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_SETTINGS } from "../../src/server/seed.ts";
import { DEFAULT_INSTRUCTIONS } from "../../src/server/services/arena-settings/index.ts";
import { createUser, errorOf, httpClient } from "../api/fixtures.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

let t: TestDatabase;
let http: ReturnType<typeof httpClient>;
let admin: string;
let labeler: string;

beforeAll(async () => {
  t = await createTestDatabase();
  await t.db.setting.createMany({ data: Object.entries(DEFAULT_SETTINGS).map(([key, value]) => ({ key, value: value as object })) });
  http = httpClient(t.db);
  admin = (await createUser(t.db, { role: "ADMIN" })).cookie;
  labeler = (await createUser(t.db)).cookie;
});
afterAll(() => t?.drop());

const data = (r: { body: unknown }) => (r.body as { result: { data: { json: unknown } } }).result.data.json;

describe("arena router", () => {
  it("refuses a malformed vote with field-level messages", async () => {
    const r = await http.mutate("arena.vote", { battleId: "nope!", choice: "C", idempotencyKey: "x", msToVote: -1 }, { cookie: labeler });
    expect(r.status).toBe(400);
    const fields = (errorOf(r).zodError as { fieldErrors: Record<string, string[]> }).fieldErrors;
    expect(Object.keys(fields).sort()).toEqual(["battleId", "choice", "idempotencyKey", "msToVote"]);
    expect(fields.choice![0]).toBe("Choice must be A, B, TIE or BOTH_BAD");
  });

  it("answers 404 for an unknown battle and 401 without a session", async () => {
    const r = await http.mutate(
      "arena.vote",
      { battleId: "unknownbattle", choice: "A", idempotencyKey: "key-123456", msToVote: 10 },
      { cookie: labeler },
    );
    expect(r.status).toBe(404);
    expect((await http.mutate("arena.next", {})).status).toBe(401);
  });

  it("says why there is no battle: no model served yet", async () => {
    await t.db.prompt.create({ data: { text: "a prompt", source: "test" } });
    const r = await http.mutate("arena.next", {}, { cookie: labeler });
    expect(r.status).toBe(200);
    expect(data(r)).toMatchObject({ status: "unavailable" });
  });

  it("typed prompts are refused unless the admin allows them", async () => {
    const r = await http.mutate("arena.next", { promptText: "my own question" }, { cookie: labeler });
    expect(r.status).toBe(403);
    expect(errorOf(r).message).toMatch(/turned off/);
  });

  it("validates settings per field and keeps the stored values on error", async () => {
    const bad = await http.mutate(
      "arena.updateSettings",
      { sampling: { temperature: 0, topP: 1.5, maxNewTokens: 0.5 }, arena: { onPolicyShare: 2 } },
      { cookie: admin },
    );
    expect(bad.status).toBe(400);
    const fields = (errorOf(bad).zodError as { fieldErrors: Record<string, string[]> }).fieldErrors;
    expect(fields["sampling.temperature"]).toEqual(["Temperature must be > 0 for battles"]);
    expect(Object.keys(fields).sort()).toEqual(["arena.onPolicyShare", "sampling.maxNewTokens", "sampling.temperature", "sampling.topP"]);
    expect((await http.mutate("arena.updateSettings", { sampling: { temperature: 0.5 } }, { cookie: labeler })).status).toBe(403);

    const ok = await http.mutate(
      "arena.updateSettings",
      { sampling: { temperature: 0.5 }, arena: { allowLabelerPrompts: true } },
      { cookie: admin },
    );
    expect(ok.status).toBe(200);
    expect(data(ok)).toMatchObject({
      sampling: { temperature: 0.5, topP: 0.95, maxNewTokens: 64 },
      arena: { allowLabelerPrompts: true, onPolicyShare: 0.8 },
    });
    expect(data(await http.query("arena.options", undefined, { cookie: labeler }))).toEqual({
      allowLabelerPrompts: true,
      instructions: DEFAULT_INSTRUCTIONS,
    });

    // instructions are the admin's words, checked like every other field
    const empty = await http.mutate("arena.updateSettings", { arena: { instructions: "   " } }, { cookie: admin });
    expect(empty.status).toBe(400);
    expect((errorOf(empty).zodError as { fieldErrors: Record<string, string[]> }).fieldErrors["arena.instructions"]).toEqual([
      "Instructions must not be empty",
    ]);
    expect(
      (await http.mutate("arena.updateSettings", { arena: { instructions: "Prefer the kinder one." } }, { cookie: admin })).status,
    ).toBe(200);
    expect(data(await http.query("arena.options", undefined, { cookie: labeler }))).toMatchObject({
      instructions: "Prefer the kinder one.",
    });
  });

  it("tells the admin the serving model's length unit: bytes for the byte-level house model", async () => {
    expect(data(await http.query("arena.lengthUnit", undefined, { cookie: admin }))).toEqual({ unit: null, version: null });
    const houseConfig = JSON.parse(readFileSync("models/house/config.json", "utf8")) as object;
    const v = await t.db.policyVersion.create({
      data: { name: "v-unit", checkpointUri: "file:/nowhere", checkpointSha256: "0", status: "SERVING", modelConfig: houseConfig },
    });
    try {
      expect(data(await http.query("arena.lengthUnit", undefined, { cookie: admin }))).toEqual({ unit: "bytes", version: "v-unit" });
      // a GPT-2 BPE vocabulary (as a round stores it, GPTConfig layout) counts tokens
      await t.db.policyVersion.update({
        where: { id: v.id },
        data: { modelConfig: { vocabSize: 50257, nPositions: 1024, tokenizer: "gpt2" } },
      });
      expect(data(await http.query("arena.lengthUnit", undefined, { cookie: admin }))).toEqual({ unit: "tokens", version: "v-unit" });
      expect((await http.query("arena.lengthUnit", undefined, { cookie: labeler })).status).toBe(403);
    } finally {
      await t.db.policyVersion.delete({ where: { id: v.id } });
    }
  });
});

describe("prompts router", () => {
  it("imports CSV with a report, skips duplicates, and lists with search", async () => {
    const content = 'prompt,overlap_target\n"Why is the sky blue?",3\n"a prompt",1\nbroken,1,2\n';
    const r = await http.mutate("prompts.import", { content, filename: "pool.csv" }, { cookie: admin });
    expect(r.status).toBe(200);
    expect(data(r)).toEqual({
      format: "csv",
      added: 1,
      duplicates: 1,
      rejected: [{ line: 4, reason: "expected 2 columns, found 3", excerpt: "broken,1,2" }],
      rejectedTotal: 1,
    });
    const list = data(await http.query("prompts.list", { search: "SKY" }, { cookie: admin })) as {
      total: number;
      prompts: { text: string; overlapTarget: number; id: string }[];
    };
    expect(list.total).toBe(1);
    expect(list.prompts[0]).toMatchObject({ text: "Why is the sky blue?", overlapTarget: 3 });
    expect((await http.mutate("prompts.setEnabled", { promptId: list.prompts[0]!.id, enabled: false }, { cookie: admin })).status).toBe(
      200,
    );
    expect((data(await http.query("prompts.list", { status: "disabled" }, { cookie: admin })) as { total: number }).total).toBe(1);
    expect((await http.mutate("prompts.setEnabled", { promptId: "missing", enabled: false }, { cookie: admin })).status).toBe(404);
  });

  it("is for admins only and refuses an empty file with a field message", async () => {
    expect((await http.mutate("prompts.import", { content: "x" }, { cookie: labeler })).status).toBe(403);
    const r = await http.mutate("prompts.import", { content: "" }, { cookie: admin });
    expect(r.status).toBe(400);
    expect((errorOf(r).zodError as { fieldErrors: Record<string, string[]> }).fieldErrors.content).toEqual(["The file is empty"]);
  });
});

describe("stats router", () => {
  it("reports labelers and a zero-filled votes-per-day series", async () => {
    const days = data(await http.query("stats.votesPerDay", { days: 7 }, { cookie: admin })) as { day: string; votes: number }[];
    expect(days).toHaveLength(7);
    expect(days.at(-1)!.day).toBe(new Date().toISOString().slice(0, 10));
    const report = data(await http.query("stats.labelers", undefined, { cookie: admin })) as {
      labelers: unknown[];
      fleissKappa: { kappa: number | null };
    };
    expect(report.labelers).toHaveLength(1);
    expect(report.fleissKappa.kappa).toBeNull();
    expect((await http.query("stats.labelers", undefined, { cookie: labeler })).status).toBe(403);
  });
});
