// The hand-written migrations must produce exactly the database Prisma Client expects:
// every model and every scalar field written through the client and read back unchanged.
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Prisma } from "../../src/generated/prisma/client.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t?.drop();
});

// Distinct, non-default values so a column that silently falls back to its default is caught.
const at = (s: string) => new Date(`2026-03-0${s}T10:11:12.345Z`);

function scalarFields(model: Prisma.ModelName): string[] {
  const enumName = `${model}ScalarFieldEnum` as keyof typeof Prisma;
  const fields = Prisma[enumName] as Record<string, string> | undefined;
  if (!fields) throw new Error(`Prisma.${String(enumName)} not found: regenerate the client`);
  return Object.values(fields);
}

describe("schema round-trip through Prisma Client", () => {
  it("writes and reads every field of every model", async () => {
    const db = t.db;
    const written: Record<string, Record<string, unknown>> = {};
    const read: Record<string, Record<string, unknown> | null> = {};

    written.User = {
      id: "user_1",
      username: "ada",
      passwordHash: "$argon2id$x",
      role: "ADMIN",
      disabled: true,
      excluded: true,
      excludedAt: at("2"),
      createdAt: at("1"),
    };
    await db.user.create({ data: written.User as Prisma.UserUncheckedCreateInput });
    read.User = await db.user.findUnique({ where: { id: "user_1" } });

    written.Session = { id: "a".repeat(64), userId: "user_1", expiresAt: at("9"), createdAt: at("2") };
    await db.session.create({ data: written.Session as Prisma.SessionUncheckedCreateInput });
    read.Session = await db.session.findUnique({ where: { id: "a".repeat(64) } });

    written.Prompt = {
      id: "prompt_1",
      text: "Once upon a time ✨ «quoted»",
      source: "labeler",
      authorId: "user_1",
      overlapTarget: 3,
      enabled: false,
      heldOut: true,
      createdAt: at("3"),
    };
    await db.prompt.create({ data: written.Prompt as Prisma.PromptUncheckedCreateInput });
    read.Prompt = await db.prompt.findUnique({ where: { id: "prompt_1" } });

    const parent = await db.policyVersion.create({
      data: { name: "v0", checkpointUri: "file:/m/house", checkpointSha256: "0".repeat(64), status: "RETIRED" },
    });
    written.PolicyVersion = {
      id: 77,
      name: "v1",
      parentId: parent.id,
      checkpointUri: "file:/ckpt/v1",
      checkpointSha256: "f".repeat(64),
      status: "SERVING",
      modelConfig: { vocabSize: 260, nLayer: 4, nested: { list: [1, 2.5, null, "x"] } },
      notes: "promoted by test",
      createdAt: at("4"),
      promotedAt: at("5"),
      source: "IMPORTED",
      architecture: "llama",
      displayName: "SmolLM2 «135M» ✨",
      parameterCount: 134_515_008n,
      sourcePath: "/srv/models/SmolLM2-135M-Instruct",
      checkpointPrunedAt: at("6"),
    };
    await db.policyVersion.create({ data: written.PolicyVersion as Prisma.PolicyVersionUncheckedCreateInput });
    read.PolicyVersion = await db.policyVersion.findUnique({ where: { id: 77 } });

    written.Battle = {
      id: "battle_1",
      promptId: "prompt_1",
      labelerId: "user_1",
      kind: "VERSUS",
      status: "VOTED",
      policyAId: 77,
      policyBId: parent.id,
      contestantId: null,
      swapped: true,
      leaseExpiresAt: at("6"),
      createdAt: at("5"),
      finishedAt: at("7"),
      // a gold battle's pair is written below; this one is an ordinary battle
      goldPairId: null,
    };
    await db.battle.create({ data: written.Battle as Prisma.BattleUncheckedCreateInput });
    read.Battle = await db.battle.findUnique({ where: { id: "battle_1" } });
    expect((await db.prompt.findUniqueOrThrow({ where: { id: "prompt_1" } })).activeBattles, "a VOTED battle counts as active").toBe(1);

    written.Completion = {
      id: "completion_1",
      battleId: "battle_1",
      slot: "B",
      promptId: "prompt_1",
      policyVersionId: 77,
      contestantId: null,
      text: "the end.\n",
      promptTokenIds: [256, 79, 110, -1, 2147483647],
      tokenIds: [116, 104, 101],
      logprob: -12.375,
      temperature: 0.7,
      topP: 0.9,
      topK: 40,
      maxNewTokens: 64,
      seed: 123456789,
      finishReason: "eos",
      firstTokenMs: 12,
      latencyMs: 340,
      createdAt: at("6"),
    };
    await db.completion.create({ data: written.Completion as Prisma.CompletionUncheckedCreateInput });
    read.Completion = await db.completion.findUnique({ where: { id: "completion_1" } });

    written.RefLogprob = { completionId: "completion_1", policyVersionId: parent.id, logprob: -13.5, tokenCount: 3, createdAt: at("7") };
    await db.refLogprob.create({ data: written.RefLogprob as Prisma.RefLogprobUncheckedCreateInput });
    read.RefLogprob = await db.refLogprob.findUnique({
      where: { completionId_policyVersionId: { completionId: "completion_1", policyVersionId: parent.id } },
    });

    written.Vote = {
      id: "vote_1",
      battleId: "battle_1",
      labelerId: "user_1",
      choice: "BOTH_BAD",
      msToVote: 4321,
      idempotencyKey: "idem-1",
      createdAt: at("8"),
      promptId: "prompt_1",
    };
    await db.vote.create({ data: written.Vote as Prisma.VoteUncheckedCreateInput });
    read.Vote = await db.vote.findUnique({ where: { id: "vote_1" } });

    written.TrainingRound = {
      id: "round_1",
      number: 42,
      status: "SUCCEEDED",
      config: { beta: 0.1, lossType: "sigmoid" },
      baseVersionId: parent.id,
      referenceVersionId: parent.id,
      resultVersionId: 77,
      pairsTrain: 90,
      pairsHeldout: 10,
      summary: { loss: 0.5, "rewards/accuracies": 0.75 },
      gates: [{ name: "heldout", passed: true, value: 0.6, threshold: 0.5 }],
      error: "none really",
      triggeredBy: "admin",
      triggeredById: "user_1",
      workerId: "host:123",
      leaseExpiresAt: at("9"),
      createdAt: at("1"),
      startedAt: at("2"),
      finishedAt: at("3"),
      usage: { new: 80, returned: 10, versus: 5, heldout: 10 },
      note: "not served: the base stopped serving",
    };
    await db.trainingRound.create({ data: written.TrainingRound as Prisma.TrainingRoundUncheckedCreateInput });
    read.TrainingRound = await db.trainingRound.findUnique({ where: { id: "round_1" } });

    written.RoundMetric = { roundId: "round_1", step: 3, values: { loss: 0.693, "rewards/margins": -0.01 }, createdAt: at("4") };
    await db.roundMetric.create({ data: written.RoundMetric as Prisma.RoundMetricUncheckedCreateInput });
    read.RoundMetric = await db.roundMetric.findUnique({ where: { roundId_step: { roundId: "round_1", step: 3 } } });

    written.RoundVote = { roundId: "round_1", voteId: "vote_1", split: "HELDOUT" };
    await db.roundVote.create({ data: written.RoundVote as Prisma.RoundVoteUncheckedCreateInput });
    read.RoundVote = await db.roundVote.findUnique({ where: { roundId_voteId: { roundId: "round_1", voteId: "vote_1" } } });

    written.PromptSplit = { key: "0123456789abcdef0123456789abcdef", split: "HELDOUT", assignedAt: at("5") };
    await db.promptSplit.create({ data: written.PromptSplit as Prisma.PromptSplitUncheckedCreateInput });
    read.PromptSplit = await db.promptSplit.findUnique({ where: { key: "0123456789abcdef0123456789abcdef" } });

    written.Setting = { key: "sampling", value: { temperature: 0.8, stop: ["\n\n"] } };
    await db.setting.create({ data: written.Setting as Prisma.SettingUncheckedCreateInput });
    read.Setting = await db.setting.findUnique({ where: { key: "sampling" } });

    written.LoginThrottle = { key: "pair:10.0.0.1|ada", failures: 3, windowStart: at("2") };
    await db.loginThrottle.create({ data: written.LoginThrottle as Prisma.LoginThrottleUncheckedCreateInput });
    read.LoginThrottle = await db.loginThrottle.findUnique({ where: { key: "pair:10.0.0.1|ada" } });

    written.TrainerHeartbeat = { workerId: "host-a:4242", pid: 4242, host: "host-a", startedAt: at("3"), seenAt: at("4") };
    await db.trainerHeartbeat.create({ data: written.TrainerHeartbeat as Prisma.TrainerHeartbeatUncheckedCreateInput });
    read.TrainerHeartbeat = await db.trainerHeartbeat.findUnique({ where: { workerId: "host-a:4242" } });
    // API keys, completions and preferences (issue 17)
    written.ApiKey = {
      id: "key_1",
      name: "eval app",
      prefix: "dpa_AbCdEf",
      hash: "e".repeat(64),
      scopes: ["inference", "vote"],
      rateLimitPerMinute: 30,
      createdById: "user_1",
      createdAt: at("1"),
      lastUsedAt: at("2"),
      revokedAt: at("3"),
    };
    await db.apiKey.create({ data: written.ApiKey as Prisma.ApiKeyUncheckedCreateInput });
    read.ApiKey = await db.apiKey.findUnique({ where: { id: "key_1" } });
    written.ApiKeyUsage = { apiKeyId: "key_1", windowStart: at("4"), count: 7 };
    await db.apiKeyUsage.create({ data: written.ApiKeyUsage as Prisma.ApiKeyUsageUncheckedCreateInput });
    read.ApiKeyUsage = await db.apiKeyUsage.findUnique({ where: { apiKeyId_windowStart: { apiKeyId: "key_1", windowStart: at("4") } } });
    const apiCompletion = (id: string) => ({
      id,
      apiKeyId: "key_1",
      endpoint: "chat",
      policyVersionId: 77,
      messages: [{ role: "user", content: "Hi ✨" }],
      promptText: "Hi ✨",
      promptTokenIds: [256, 72, 105],
      tokenIds: [33, 257],
      text: "!",
      logprob: -3.25,
      temperature: 0.7,
      topP: 0.9,
      maxNewTokens: 16,
      seed: 2147483647,
      finishReason: "eos",
      latencyMs: 55,
      createdAt: at("5"),
    });
    written.ApiCompletion = apiCompletion("chatcmpl-x.0");
    await db.apiCompletion.create({ data: written.ApiCompletion as Prisma.ApiCompletionUncheckedCreateInput });
    await db.apiCompletion.create({ data: apiCompletion("chatcmpl-x.1") as Prisma.ApiCompletionUncheckedCreateInput });
    read.ApiCompletion = await db.apiCompletion.findUnique({ where: { id: "chatcmpl-x.0" } });
    written.ApiPreference = {
      id: "pref_1",
      apiKeyId: "key_1",
      completionAId: "chatcmpl-x.0",
      completionBId: "chatcmpl-x.1",
      choice: "B",
      createdAt: at("6"),
    };
    await db.apiPreference.create({ data: written.ApiPreference as Prisma.ApiPreferenceUncheckedCreateInput });
    read.ApiPreference = await db.apiPreference.findUnique({ where: { id: "pref_1" } });
    // one row per unordered pair: the larger id first is refused by the table's CHECK
    await expect(
      db.apiPreference.create({ data: { apiKeyId: "key_1", completionAId: "chatcmpl-x.1", completionBId: "chatcmpl-x.0", choice: "A" } }),
    ).rejects.toThrow();
    written.GoldPair = {
      id: "gold_1",
      promptText: "Say hi",
      completionA: "hi",
      completionB: "go away",
      expected: "A",
      note: "politeness",
      source: "import:gold.jsonl",
      createdById: "user_1",
      active: false,
      createdAt: at("5"),
      promptId: "prompt_1",
    };
    await db.goldPair.create({ data: written.GoldPair as Prisma.GoldPairUncheckedCreateInput });
    read.GoldPair = await db.goldPair.findUnique({ where: { id: "gold_1" } });
    written.PreferenceImport = {
      id: "import_1",
      filename: "hh-rlhf.jsonl",
      format: "hh",
      pairCount: 1,
      rootVersionId: 77,
      createdById: "user_1",
      createdAt: at("6"),
    };
    await db.preferenceImport.create({ data: written.PreferenceImport as Prisma.PreferenceImportUncheckedCreateInput });
    read.PreferenceImport = await db.preferenceImport.findUnique({ where: { id: "import_1" } });
    written.ImportedPair = {
      id: "ipair_1",
      importId: "import_1",
      line: 42,
      prompt: "User: Hi ✨\n\nAssistant:",
      promptMessages: [{ role: "user", content: "Hi ✨" }],
      chosen: " Hello!",
      rejected: " Go away.",
      promptTokenIds: [256, 72, 105],
      chosenTokenIds: [33, 257],
      rejectedTokenIds: [34, 257],
      createdAt: at("7"),
    };
    await db.importedPair.create({ data: written.ImportedPair as Prisma.ImportedPairUncheckedCreateInput });
    read.ImportedPair = await db.importedPair.findUnique({ where: { id: "ipair_1" } });

    written.Contestant = {
      id: 5,
      name: "llama-8b",
      baseUrl: "http://gpu-box:8000/v1",
      model: "meta-llama/Llama-3.1-8B-Instruct",
      api: "completions",
      apiKeyEncrypted: "aXYxMjM0NTY3ODlhYnRhZ3RhZ3RhZ3RhZ3RhZ2NpcGhlcg==",
      enabled: false,
      lastSuccessAt: at("2"),
      lastErrorAt: at("3"),
      lastError: "cannot reach http://gpu-box:8000/v1: fetch failed (ECONNREFUSED)",
      createdAt: at("1"),
      removedAt: at("4"),
    };
    await db.contestant.create({ data: written.Contestant as Prisma.ContestantUncheckedCreateInput });
    read.Contestant = await db.contestant.findUnique({ where: { id: 5 } });
    // A contestant battle has exactly one slot without a version; a completion has one source.
    const contestantBattle = { promptId: "prompt_1", labelerId: "user_1", kind: "CONTESTANT" as const, leaseExpiresAt: at("6") };
    await expect(db.battle.create({ data: { ...contestantBattle, policyAId: 77, policyBId: 77, contestantId: 5 } })).rejects.toThrow();
    await expect(db.battle.create({ data: { ...contestantBattle, policyAId: null, policyBId: null, contestantId: 5 } })).rejects.toThrow();
    await expect(db.battle.create({ data: { ...contestantBattle, policyAId: 77, policyBId: null, contestantId: null } })).rejects.toThrow();
    const cb = await db.battle.create({
      data: { ...contestantBattle, policyAId: null, policyBId: 77, contestantId: 5 },
      select: { id: true },
    });
    const completion = {
      battleId: cb.id,
      slot: "A" as const,
      promptId: "prompt_1",
      text: "hi",
      temperature: 1,
      topP: 1,
      topK: 0,
      maxNewTokens: 8,
      seed: 1,
      finishReason: "eos",
      latencyMs: 1,
    };
    await expect(db.completion.create({ data: { ...completion, policyVersionId: 77, contestantId: 5 } })).rejects.toThrow();
    await expect(db.completion.create({ data: { ...completion, policyVersionId: null, contestantId: null } })).rejects.toThrow();
    await db.completion.create({ data: { ...completion, policyVersionId: null, contestantId: 5 } });

    for (const model of Object.values(Prisma.ModelName)) {
      const fields = scalarFields(model);
      // Fails when a field is added to the schema without being covered here.
      // written by the database itself (updatedAt; activeBattles by the Battle trigger)
      const automatic = model === "Setting" ? ["updatedAt"] : model === "Prompt" ? ["activeBattles", "textKey"] : [];
      expect(Object.keys(written[model] ?? {}).sort(), `fields written for ${model}`).toEqual(
        fields.filter((f) => !automatic.includes(f)).sort(),
      );
      expect(read[model], `${model} read back`).not.toBeNull();
      expect(Object.keys(read[model]!).sort(), `fields read for ${model}`).toEqual([...fields].sort());
      for (const [field, value] of Object.entries(written[model]!)) {
        expect(read[model]![field], `${model}.${field}`).toEqual(value);
      }
    }
    expect(read.Setting!.updatedAt).toBeInstanceOf(Date);
  });

  it("has exactly the columns Prisma Client knows for every model table", async () => {
    for (const model of Object.values(Prisma.ModelName)) {
      const cols = await t.db.$queryRaw<{ column_name: string }[]>`
        SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = ${model}`;
      expect(cols.map((c) => c.column_name).sort(), model).toEqual([...scalarFields(model)].sort());
    }
    // Prisma's PostgreSQL mapping: DateTime → timestamp(3) without time zone, Json → jsonb,
    // Float → double precision, Int[] → integer[]; anything else would drift from `migrate diff`.
    const types = await t.db.$queryRaw<
      { table_name: string; column_name: string; data_type: string; udt_name: string; datetime_precision: number | null }[]
    >`
      SELECT table_name, column_name, data_type, udt_name, datetime_precision FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name <> '_prisma_migrations'`;
    const byName = new Map(types.map((c) => [`${c.table_name}.${c.column_name}`, c]));
    for (const c of types.filter((c) => c.data_type.startsWith("timestamp"))) {
      expect([c.data_type, c.datetime_precision], `${c.table_name}.${c.column_name}`).toEqual(["timestamp without time zone", 3]);
    }
    expect(byName.get("TrainingRound.config")!.udt_name).toBe("jsonb");
    expect(byName.get("Completion.tokenIds")!.udt_name).toBe("_int4");
    expect(byName.get("Completion.logprob")!.udt_name).toBe("float8");
    expect(byName.get("Vote.choice")!.udt_name).toBe("VoteChoice");
    expect(byName.get("User.id")!.udt_name).toBe("text");
  });

  it("fills defaults the way the schema declares them", async () => {
    const user = await t.db.user.create({ data: { username: "defaults", passwordHash: "h" } });
    expect(user).toMatchObject({ role: "LABELER", disabled: false });
    expect(user.id).toMatch(/^c[a-z0-9]{20,}$/);
    const prompt = await t.db.prompt.create({ data: { text: "x", source: "seed" } });
    expect(prompt).toMatchObject({ overlapTarget: 1, enabled: true, heldOut: false, authorId: null });
    const r1 = await t.db.trainingRound.create({ data: { config: {}, triggeredBy: "schedule", status: "CANCELLED" } });
    const r2 = await t.db.trainingRound.create({ data: { config: {}, triggeredBy: "schedule", status: "FAILED" } });
    expect(r2.number).toBeGreaterThan(r1.number);
    expect(r1).toMatchObject({ pairsTrain: 0, pairsHeldout: 0 });
  });

  it("allows at most one SERVING policy version", async () => {
    const serving = await t.db.policyVersion.findMany({ where: { status: "SERVING" } });
    expect(serving).toHaveLength(1);
    await expect(
      t.db.policyVersion.create({ data: { name: "v2", checkpointUri: "file:/x", checkpointSha256: "1".repeat(64), status: "SERVING" } }),
    ).rejects.toThrow(/Unique constraint/i);
    // Promotion is a swap: retire the old one, then serve the new one, in one transaction.
    const next = await t.db.policyVersion.create({
      data: { name: "v2", checkpointUri: "file:/x", checkpointSha256: "1".repeat(64), status: "CANDIDATE" },
    });
    await t.db.$transaction([
      t.db.policyVersion.update({ where: { id: serving[0]!.id }, data: { status: "RETIRED" } }),
      t.db.policyVersion.update({ where: { id: next.id }, data: { status: "SERVING" } }),
    ]);
    expect((await t.db.policyVersion.findMany({ where: { status: "SERVING" } })).map((v) => v.name)).toEqual(["v2"]);
  });

  it("enforces the unique and foreign keys the schema declares", async () => {
    await expect(t.db.user.create({ data: { username: "ada", passwordHash: "h" } })).rejects.toThrow(/Unique constraint/i);
    await expect(
      t.db.vote.create({ data: { battleId: "battle_1", labelerId: "user_1", choice: "A", msToVote: 1, idempotencyKey: "idem-2" } }),
    ).rejects.toThrow(/Unique constraint/i);
    await expect(t.db.session.create({ data: { id: "b".repeat(64), userId: "no_such_user", expiresAt: new Date() } })).rejects.toThrow(
      /Foreign key constraint/i,
    );
    // Sessions go with their user (onDelete: Cascade).
    const u = await t.db.user.create({ data: { username: "temp", passwordHash: "h" } });
    await t.db.session.create({ data: { id: "c".repeat(64), userId: u.id, expiresAt: new Date() } });
    await t.db.user.delete({ where: { id: u.id } });
    expect(await t.db.session.count({ where: { id: "c".repeat(64) } })).toBe(0);
  });

  it("names every index, unique key and foreign key the way Prisma would, so `migrate diff` sees no drift", async () => {
    const schema = readFileSync(path.resolve(import.meta.dirname, "../../prisma/schema.prisma"), "utf8");
    const expectedIndexes = new Set<string>();
    const expectedForeignKeys = new Set<string>();
    for (const [, model, body] of schema.matchAll(/^model (\w+) \{([\s\S]*?)^\}/gm)) {
      expectedIndexes.add(`${model}_pkey`);
      for (const [, cols] of body!.matchAll(/@@index\(\[([^\]]+)\]/g)) expectedIndexes.add(`${model}_${cols!.split(/,\s*/).join("_")}_idx`);
      for (const [, cols] of body!.matchAll(/@@unique\(\[([^\]]+)\]/g))
        expectedIndexes.add(`${model}_${cols!.split(/,\s*/).join("_")}_key`);
      for (const [, field] of body!.matchAll(/^\s+(\w+)\s+[^\n]*@unique/gm)) expectedIndexes.add(`${model}_${field}_key`);
      for (const [, cols] of body!.matchAll(/@relation\([^)]*fields:\s*\[([^\]]+)\]/g))
        expectedForeignKeys.add(`${model}_${cols!.split(/,\s*/).join("_")}_fkey`);
    }
    const indexes = await t.db.$queryRaw<{ indexname: string }[]>`
      SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND tablename <> '_prisma_migrations'`;
    // SQL-only indexes that schema.prisma cannot express (partial indexes).
    const sqlOnly = new Set(["PolicyVersion_one_serving", "TrainingRound_one_active_key", "Prompt_servable_idx"]);
    expect(
      indexes
        .map((i) => i.indexname)
        .filter((n) => !sqlOnly.has(n))
        .sort(),
    ).toEqual([...expectedIndexes].sort());
    const fks = await t.db.$queryRaw<{ conname: string }[]>`
      SELECT conname FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace`;
    expect(fks.map((f) => f.conname).sort()).toEqual([...expectedForeignKeys].sort());
  });
});
