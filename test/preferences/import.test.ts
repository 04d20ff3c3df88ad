// Data in (issue 17): TRL and Anthropic HH preference files become offline pairs, stored whole or
// not at all with line-numbered rejections; the TRL export imports back to the same pairs; a
// round uses imported pairs and API preferences only when the loop settings say so, records how
// many in its usage, and none of it ever counts as a vote.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BYTE_EOS, byteTokenizer, encodePrompt } from "../../src/lm/index.ts";
import { DirectoryCheckpointStore } from "../../src/server/policy/checkpoint-store.ts";
import { streamTrlPairs } from "../../src/server/services/export/trl.ts";
import { importPreferences, listPreferenceImports, MAX_REPORTED_REJECTIONS } from "../../src/server/services/preference-import/import.ts";
import { parsePreferences } from "../../src/server/services/preference-import/parse.ts";
import { executeRound } from "../../src/server/services/rounds/execute.ts";
import { triggerRound } from "../../src/server/services/rounds/lifecycle.ts";
import { countOfflinePairs } from "../../src/server/services/rounds/offline-pairs.ts";
import { countPairs } from "../../src/server/services/rounds/pairs.ts";
import { gatherPairs } from "../../src/server/services/rounds/prepare.ts";
import { getLoopSettings } from "../../src/server/services/rounds/settings.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { fastSettings, registerTinyHouse, seedVotes, tempDir } from "../loop/fixtures.ts";

let t: TestDatabase;
let store: DirectoryCheckpointStore;
const tok = byteTokenizer();
const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join("\n");

beforeAll(async () => {
  t = await createTestDatabase();
  store = new DirectoryCheckpointStore(await tempDir("pref-store"));
});
afterAll(async () => {
  await t?.drop();
});

describe("parsing TRL and Anthropic HH lines", () => {
  it("reads TRL's explicit-prompt standard and conversational forms and the implicit-prompt conversational form", () => {
    const { pairs, rejected } = parsePreferences(
      jsonl([
        { prompt: "Sky?", chosen: " blue", rejected: " green" },
        {
          prompt: [
            { role: "system", content: "Be brief." },
            { role: "user", content: "Sky?" },
          ],
          chosen: [{ role: "assistant", content: "Blue." }],
          rejected: [{ role: "assistant", content: "Green." }],
        },
        {
          chosen: [
            { role: "user", content: "Hi" },
            { role: "assistant", content: "Hello!" },
          ],
          rejected: [
            { role: "user", content: "Hi" },
            { role: "assistant", content: "Go away." },
          ],
        },
      ]),
      "trl",
    );
    expect(rejected).toEqual([]);
    expect(pairs[0]).toEqual({ line: 1, prompt: "Sky?", promptMessages: null, chosen: " blue", rejected: " green" });
    expect(pairs[1]).toMatchObject({
      line: 2,
      prompt: "System: Be brief.\n\nUser: Sky?\n\nAssistant:",
      chosen: "Blue.",
      rejected: "Green.",
    });
    expect(pairs[1]!.promptMessages).toHaveLength(2);
    // one user message is sent as exactly its text, as the arena and the API do
    expect(pairs[2]).toMatchObject({ line: 3, prompt: "Hi", promptMessages: [{ role: "user", content: "Hi" }], chosen: "Hello!" });
  });

  it("takes an HH prompt as the shared beginning, ended at its last Assistant turn", () => {
    const chosen = "\n\nHuman: Is the sky blue?\n\nAssistant: Yes, it is blue on a clear day.";
    const rejected = "\n\nHuman: Is the sky blue?\n\nAssistant: Yes. Go away.";
    const { pairs, rejected: bad } = parsePreferences(jsonl([{ chosen, rejected }]), "hh");
    expect(bad).toEqual([]);
    // the answers both begin with " Yes": the longest common prefix alone would cut into them
    expect(pairs[0]).toMatchObject({
      prompt: "\n\nHuman: Is the sky blue?\n\nAssistant:",
      chosen: " Yes, it is blue on a clear day.",
      rejected: " Yes. Go away.",
    });
  });

  it("names every bad line by its number (blank lines counted) and says what is wrong", () => {
    const content = [
      JSON.stringify({ prompt: "ok", chosen: "a", rejected: "b" }),
      "",
      "{not json",
      JSON.stringify({ prompt: "p", chosen: "same", rejected: "same" }),
      JSON.stringify({ prompt: "p", chosen: 3, rejected: "b" }),
      JSON.stringify({ prompt: [{ role: "user", content: "q" }], chosen: [{ role: "wizard", content: "x" }], rejected: [] }),
      JSON.stringify(["a list"]),
      JSON.stringify({ chosen: "no prompt", rejected: "here" }),
    ].join("\r\n");
    const { pairs, rejected } = parsePreferences(content, "trl");
    expect(pairs.map((p) => p.line)).toEqual([1]);
    expect(rejected.map((r) => [r.line, r.reason])).toEqual([
      [3, "not valid JSON"],
      [4, "chosen and rejected are the same answer: the pair says nothing"],
      [5, `"chosen" must be a string, got a number`],
      [6, `chosen[0].role must be one of system, developer, user, assistant, got "wizard"`],
      [7, "expected a JSON object, got a list"],
      [8, `no "prompt": give "prompt", or use --format hh for texts that begin with the conversation`],
    ]);
    const hh = parsePreferences(jsonl([{ chosen: "Just text", rejected: "Other text" }]), "hh");
    expect(hh.rejected[0]).toMatchObject({ line: 1, reason: expect.stringMatching(/no "\\n\\nAssistant:" turn/) });
  });
});

describe("importing", () => {
  it("rejects a malformed file whole, with line numbers, and stores nothing", async () => {
    await registerTinyHouse(t.db);
    const content = jsonl([
      { prompt: "fine", chosen: " yes", rejected: " no" },
      { prompt: "also fine", chosen: " sun", rejected: " rot" },
      { prompt: "broken", chosen: " x" },
    ]);
    const r = await importPreferences({ db: t.db, store, content, format: "trl", filename: "bad.jsonl" });
    expect(r).toMatchObject({ importId: null, imported: 0, rejectedTotal: 1, tokenizedFor: "v0" });
    expect(r.rejected).toEqual([{ line: 3, reason: `a TRL preference line needs "chosen" and "rejected"`, excerpt: expect.any(String) }]);
    expect(await t.db.importedPair.count()).toBe(0);
    expect(await t.db.preferenceImport.count()).toBe(0);

    // an HH file with one bad line among good ones: the same
    const hh = jsonl([
      { chosen: "\n\nHuman: a?\n\nAssistant: yes", rejected: "\n\nHuman: a?\n\nAssistant: no" },
      { chosen: "\n\nHuman: b?\n\nAssistant: same", rejected: "\n\nHuman: b?\n\nAssistant: same" },
    ]);
    const r2 = await importPreferences({ db: t.db, store, content: hh, format: "hh" });
    expect(r2.rejected.map((x) => x.line)).toEqual([2]);
    expect(await t.db.importedPair.count()).toBe(0);
  });

  it("rejects prompts that leave the model no room, and bounds the report", async () => {
    const long = { prompt: "x".repeat(60), chosen: " a", rejected: " b" }; // the tiny model's context is 48
    const r = await importPreferences({ db: t.db, store, content: jsonl([long]), format: "trl" });
    expect(r.rejected[0]!.reason).toBe("the prompt is 61 tokens; v0's context is 48, so no answer fits after it");
    const many = Array.from({ length: MAX_REPORTED_REJECTIONS + 500 }, () => "nope").join("\n");
    const r2 = await importPreferences({ db: t.db, store, content: many, format: "hh" });
    expect(r2.rejectedTotal).toBe(MAX_REPORTED_REJECTIONS + 500);
    expect(r2.rejected).toHaveLength(MAX_REPORTED_REJECTIONS);
    expect(r2.rejected.at(-1)!.line).toBe(MAX_REPORTED_REJECTIONS);
  });

  it("round-trips the TRL export: the same texts, and the very token ids the arena's completions had (plus EOS)", async () => {
    const v0 = await t.db.policyVersion.findFirstOrThrow({ where: { name: "v0" } });
    await seedVotes(t.db, v0.id, 24);
    const exported = await new Response(streamTrlPairs({ db: t.db })).text();
    const lines = exported.trim().split("\n");
    expect(lines).toHaveLength(24);
    const votesBefore = await t.db.vote.count();
    const r = await importPreferences({ db: t.db, store, content: exported, format: "trl", filename: "trl_preferences.jsonl" });
    expect(r).toMatchObject({ imported: 24, rejectedTotal: 0 });
    const pairs = await t.db.importedPair.findMany({ where: { importId: r.importId! }, orderBy: { line: "asc" } });
    expect(pairs.map((p) => JSON.stringify({ prompt: p.prompt, chosen: p.chosen, rejected: p.rejected }))).toEqual(lines);
    for (const p of pairs) {
      const completion = await t.db.completion.findFirstOrThrow({ where: { text: p.chosen, prompt: { text: p.prompt } } });
      expect(p.promptTokenIds).toEqual(completion.promptTokenIds);
      expect(p.promptTokenIds).toEqual(encodePrompt(tok, p.prompt));
      expect(p.chosenTokenIds).toEqual([...completion.tokenIds, BYTE_EOS]);
    }
    // imported pairs are not votes
    expect(await t.db.vote.count()).toBe(votesBefore);
    const [listed] = await listPreferenceImports({ db: t.db });
    expect(listed).toMatchObject({ filename: "trl_preferences.jsonl", format: "trl", pairCount: 24, used: 0, rootVersion: "v0" });
  });
});

describe("a round with offline pairs", () => {
  it("leaves imported pairs out unless the setting is on, then trains on those of training-side prompts and records them", async () => {
    await fastSettings(t.db, { gates: { requireImprovement: false } });
    const settings = await getLoopSettings({ db: t.db });
    expect(settings.dpo.importedPairs).toBe(false);
    const model = { nPositions: 48, vocabSize: 260 };
    const off = await gatherPairs(t.db, settings.dpo, model);
    expect(off.usage.imported).toBe(0);
    expect(off.train.every((p) => p.vote.source === undefined)).toBe(true);

    const arenaBefore = await countPairs(t.db, { versus: true, heldoutFraction: settings.dpo.heldoutFraction });
    await fastSettings(t.db, { dpo: { importedPairs: true }, gates: { requireImprovement: false } });
    const on = await gatherPairs(t.db, (await getLoopSettings({ db: t.db })).dpo, model);
    // the import repeats the arena's prompts: only those on the training side of the split are used
    expect(on.usage.imported).toBe(arenaBefore.fresh);
    expect(on.usage.new).toBe(2 * arenaBefore.fresh);
    expect(on.heldout.every((p) => p.vote.source === undefined)).toBe(true);
    expect((await countOfflinePairs(t.db)).imported).toBe(arenaBefore.fresh);

    const { round } = await triggerRound({ db: t.db, triggeredBy: "admin", force: true });
    const outcome = await executeRound({ db: t.db, store, roundId: round.id, workerId: "pref-test", leaseSeconds: 10 });
    const row = await t.db.trainingRound.findUniqueOrThrow({ where: { id: round.id } });
    expect(row.error).toBeNull();
    expect(outcome).toBe("SUCCEEDED");
    expect(row.usage).toMatchObject({ imported: arenaBefore.fresh, api: 0, new: 2 * arenaBefore.fresh });
    const imported = await t.db.importedPair.findMany({ select: { id: true } });
    const used = await t.db.roundVote.count({ where: { roundId: round.id, voteId: { in: imported.map((p) => p.id) } } });
    expect(used).toBe(arenaBefore.fresh);
    // reference log-probs of imported answers are cached like those of arena completions
    expect(await t.db.refLogprob.count({ where: { completionId: { endsWith: ".chosen" } } })).toBe(arenaBefore.fresh);
    // absorbed into the new serving version: not offered again; and still no votes were made
    expect((await countOfflinePairs(t.db)).imported).toBe(0);
    expect((await listPreferenceImports({ db: t.db }))[0]!.used).toBe(arenaBefore.fresh);
  }, 300_000);

  it("reads decisive API preferences of the serving lineage when `apiPairs` is on", async () => {
    const v0 = await t.db.policyVersion.findFirstOrThrow({ where: { name: "v0" } });
    const key = await t.db.apiKey.create({ data: { name: "app", prefix: "dpa_test", hash: "h".repeat(64), scopes: ["vote"] } });
    const n = 6;
    for (let k = 0; k < n; k++) {
      const promptText = `api question ${k}`;
      const ids = [];
      for (const [j, text] of [" good", " bad"].entries()) {
        const c = await t.db.apiCompletion.create({
          data: {
            id: `cmpl-test${k}.${j}`,
            apiKeyId: key.id,
            endpoint: "completions",
            policyVersionId: v0.id,
            promptText,
            promptTokenIds: encodePrompt(tok, promptText),
            tokenIds: tok.encode(text),
            text,
            temperature: 1,
            topP: 1,
            maxNewTokens: 8,
            seed: k,
            finishReason: "length",
            latencyMs: 1,
          },
        });
        ids.push(c.id);
      }
      await t.db.apiPreference.create({
        data: { apiKeyId: key.id, completionAId: ids[0]!, completionBId: ids[1]!, choice: k === 0 ? "TIE" : "A" },
      });
    }
    const model = { nPositions: 48, vocabSize: 260 };
    const offSettings = (await getLoopSettings({ db: t.db })).dpo;
    expect((await gatherPairs(t.db, { ...offSettings, importedPairs: false }, model)).usage.api).toBe(0);
    const on = await gatherPairs(t.db, { ...offSettings, importedPairs: false, apiPairs: true }, model);
    // the tie is not a pair; held-out-side prompts are left out, like votes
    const heldoutApi = await t.db.$queryRaw<{ n: bigint }[]>`
      SELECT count(*) AS n FROM "ApiCompletion" a JOIN "PromptSplit" s ON s.key = prompt_text_key(a."promptText")
       WHERE s.split = 'HELDOUT' AND a.id LIKE '%.0' AND a.id <> 'cmpl-test0.0'`;
    const expected = n - 1 - Number(heldoutApi[0]!.n);
    expect(on.usage.api).toBe(expected);
    expect((await countOfflinePairs(t.db)).api).toBe(expected);
    const apiPairs = on.train.filter((p) => p.vote.source === "api");
    expect(apiPairs.every((p) => p.chosen.completionId.endsWith(".0"))).toBe(true);
  });
});
