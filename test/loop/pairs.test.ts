// Which votes a round may use: the persistent held-out split by normalized prompt text, newest
// trainable pairs first, serving-vs-earlier votes as off-policy pairs, only the serving lineage;
// and the migration that renamed the loop settings' fields.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { byteTokenizer, encodePrompt } from "../../src/lm/index.ts";
import { assignSplits, countPairs, heldoutPairs, trainablePairs } from "../../src/server/services/rounds/pairs.ts";
import { getLoopSettings } from "../../src/server/services/rounds/settings.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { registerTinyHouse } from "./fixtures.ts";

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t?.drop();
});

const tok = byteTokenizer();

/** One decisive vote on a battle of `kind` between versions a and b, on prompt text `text`. */
async function vote(text: string, a: number, b: number, kind: "ON_POLICY" | "VERSUS", i: number) {
  const labeler = await t.db.user.upsert({
    where: { username: "labeler-pairs" },
    create: { username: "labeler-pairs", passwordHash: "x" },
    update: {},
  });
  const prompt = await t.db.prompt.create({ data: { text, source: "test" } });
  const battle = await t.db.battle.create({
    data: {
      promptId: prompt.id,
      labelerId: labeler.id,
      kind,
      status: "VOTED",
      policyAId: a,
      policyBId: b,
      leaseExpiresAt: new Date(Date.now() + 60_000),
    },
  });
  for (const [slot, policy, word] of [
    ["A", a, " sun"],
    ["B", b, " rot"],
  ] as const) {
    await t.db.completion.create({
      data: {
        battleId: battle.id,
        slot,
        promptId: prompt.id,
        policyVersionId: policy,
        text: word,
        promptTokenIds: encodePrompt(tok, text),
        tokenIds: tok.encode(word),
        temperature: 1,
        topP: 1,
        topK: 0,
        maxNewTokens: 8,
        seed: i,
        finishReason: "length",
        latencyMs: 1,
      },
    });
  }
  return t.db.vote.create({
    data: { battleId: battle.id, labelerId: labeler.id, choice: "A", msToVote: 500, idempotencyKey: `pairs-${battle.id}` },
  });
}

describe("the held-out split", () => {
  it("never puts one normalized prompt text on both sides, across duplicates, case, spacing and overlap copies", async () => {
    const v0 = await registerTinyHouse(t.db);
    // 60 texts, each as 3 variants that normalize to the same key, some voted twice (overlap copies)
    const variants = (k: number) => [`Prompt number ${k}`, `  prompt   NUMBER ${k} `, `PROMPT number\u00a0${k}`];
    let i = 0;
    for (let k = 0; k < 60; k++) for (const v of variants(k)) await vote(v, v0.id, v0.id, "ON_POLICY", i++);
    await assignSplits(t.db, 0.3);
    const limit = 10_000;
    const train = await trainablePairs(t.db, { limit, versus: true });
    const held = await heldoutPairs(t.db, { limit, versus: true });
    expect(train.length + held.length).toBe(180);
    const trainKeys = new Set(train.map((p) => p.promptKey));
    const heldKeys = new Set(held.map((p) => p.promptKey));
    expect(trainKeys.size + heldKeys.size).toBe(60);
    for (const k of heldKeys) expect(trainKeys.has(k)).toBe(false);
    expect(heldKeys.size).toBeGreaterThan(8); // ~30% of 60
    expect(heldKeys.size).toBeLessThan(30);

    // Raising the share later moves no prompt that is already on a side.
    await assignSplits(t.db, 0.5);
    expect(new Set((await heldoutPairs(t.db, { limit, versus: true })).map((p) => p.promptKey))).toEqual(heldKeys);
    // A new text gets a side; a new copy of a known text keeps its side.
    const known = [...heldKeys][0]!;
    const knownText = held.find((p) => p.promptKey === known)!;
    const row = await t.db.prompt.findUniqueOrThrow({ where: { id: knownText.promptId } });
    await vote(row.text.toUpperCase(), v0.id, v0.id, "ON_POLICY", i++);
    const counts = await countPairs(t.db, { versus: true, heldoutFraction: 0.3 });
    expect(counts.heldout).toBe(held.length + 1);
    expect(counts.fresh).toBe(train.length);
  });

  it("serving-vs-earlier votes become off-policy pairs when the setting is on, only within the serving lineage", async () => {
    const v0 = await t.db.policyVersion.findFirstOrThrow({ where: { name: "v0" } });
    const v1 = await registerTinyHouse(t.db, { seed: 3, name: "v1", status: "CANDIDATE" });
    await t.db.policyVersion.update({ where: { id: v1.id }, data: { parentId: v0.id } });
    const other = await registerTinyHouse(t.db, { seed: 4, name: "imported", status: "CANDIDATE" }); // another root
    const before = await countPairs(t.db, { versus: true, heldoutFraction: 0.3 });
    const texts = Array.from({ length: 40 }, (_, k) => `versus prompt ${k}`);
    for (const [k, text] of texts.entries()) await vote(text, v1.id, v0.id, "VERSUS", 1000 + k);
    await vote("cross lineage", other.id, v0.id, "VERSUS", 2000);
    const on = await countPairs(t.db, { versus: true, heldoutFraction: 0.3 });
    const off = await countPairs(t.db, { versus: false, heldoutFraction: 0.3 });
    expect(on.fresh + on.heldout).toBe(before.fresh + before.heldout + 40);
    expect(on.versus).toBe(on.fresh - before.fresh);
    expect(off.fresh).toBe(before.fresh);
    const pairs = await trainablePairs(t.db, { limit: 10_000, versus: true });
    expect(pairs.filter((p) => p.kind === "VERSUS").length).toBe(on.versus);
    expect(pairs.some((p) => p.promptKey && p.kind === "VERSUS" && p.chosen.tokenIds.length > 0)).toBe(true);
  });
});

describe("the stored prompt key (20261203170100_prompt_text_key_column)", () => {
  it("is the normalized text's key on insert and on edit, whatever the client writes, and is indexed", async () => {
    const key = async (text: string) => (await t.db.$queryRaw<{ k: string }[]>`SELECT prompt_text_key(${text}) AS k`)[0]!.k;
    const p = await t.db.prompt.create({ data: { text: "  Keyed   PROMPT ", source: "test", textKey: "forged" } });
    expect(p.textKey).toBe(await key("keyed prompt"));
    const edited = await t.db.prompt.update({ where: { id: p.id }, data: { text: "another text" } });
    expect(edited.textKey).toBe(await key("another text"));
    expect(edited.textKey).not.toBe(p.textKey);
    const forged = await t.db.prompt.update({ where: { id: p.id }, data: { textKey: "forged" } });
    expect(forged.textKey).toBe(await key("another text"));
    // The pair queries join PromptSplit on it: with the index, a lookup by key does not scan Prompt.
    await t.db.$executeRawUnsafe(`ANALYZE "Prompt"`);
    await t.db.$executeRawUnsafe("SET enable_seqscan = off");
    const plan = await t.db.$queryRawUnsafe<{ "QUERY PLAN": string }[]>(
      `EXPLAIN SELECT id FROM "Prompt" WHERE "textKey" = '${edited.textKey}'`,
    );
    await t.db.$executeRawUnsafe("RESET enable_seqscan");
    expect(plan.map((r) => r["QUERY PLAN"]).join("\n")).toMatch(/Prompt_textKey_idx/);
  });
});

describe("the settings migration (20261203110000_loop_guard)", () => {
  it("rewrites stored rows with the old field names and drops the old gates, keeping every value", async () => {
    await t.db.setting.deleteMany({ where: { key: { in: ["dpo", "gates"] } } });
    await t.db.setting.create({ data: { key: "dpo", value: { beta: 0.2, learningRate: 2e-4, batchPairs: 16, epochs: 3, klPrompts: 8 } } });
    await t.db.setting.create({ data: { key: "gates", value: { minHeldoutAccuracy: 0.5, maxHeldoutLoss: 0.69, klBudget: 8 } } });
    const queued = await t.db.trainingRound.create({
      data: {
        status: "QUEUED",
        triggeredBy: "admin",
        config: { dpo: { beta: 0.3, learningRate: 1e-4, batchPairs: 8 }, gates: { minHeldoutAccuracy: 0.5, klBudget: 5 } },
      },
    });
    // Reading them before the migration fails loudly rather than silently dropping the old values.
    const sql = await readFile(path.join(import.meta.dirname, "../../prisma/migrations/20261203110000_loop_guard/migration.sql"), "utf8");
    const updates = sql
      .split(/;\s*\n/)
      .map((s) => s.replace(/^(\s*--.*\n)*/g, "").trim())
      .filter((s) => s.startsWith("UPDATE"));
    expect(updates).toHaveLength(4);
    for (const u of updates) await t.db.$executeRawUnsafe(u);

    const s = await getLoopSettings({ db: t.db });
    expect(s.dpo).toMatchObject({ beta: 0.2, lr: 2e-4, batchSize: 16, epochs: 3, klPrompts: 8 });
    const raw = (await t.db.setting.findUniqueOrThrow({ where: { key: "dpo" } })).value as Record<string, unknown>;
    expect(raw).not.toHaveProperty("learningRate");
    expect(raw).not.toHaveProperty("batchPairs");
    const gates = (await t.db.setting.findUniqueOrThrow({ where: { key: "gates" } })).value as Record<string, unknown>;
    expect(gates).toEqual({}); // the old default KL budget (8 nats at 32 tokens) gives way to the new default
    expect(s.gates).toMatchObject({ klBudget: 12, rootKlBudget: 12, minHeldoutPairs: 200 });
    const round = await t.db.trainingRound.findUniqueOrThrow({ where: { id: queued.id } });
    expect(round.config).toEqual({ dpo: { beta: 0.3, lr: 1e-4, batchSize: 8 }, gates: { klBudget: 5 } });
    // Running it twice changes nothing.
    for (const u of updates) await t.db.$executeRawUnsafe(u);
    expect((await getLoopSettings({ db: t.db })).dpo).toEqual(s.dpo);
  });
});
