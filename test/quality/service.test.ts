// The quality page's service and router on a real database: stored battles and votes from
// synthetic labelers with known skills, gold pairs imported as JSONL.
import { TRPCError } from "@trpc/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { syntheticVotes } from "../../src/quality/synthetic.ts";
import { labelerQuality } from "../../src/server/services/quality/labeler-quality.ts";
import { callerFor, createUser } from "../api/fixtures.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

let t: TestDatabase;
let adminCookie: string;
let labelerCookie: string;
const data = syntheticVotes({ labelers: 6, votesPerLabeler: 80, overlap: 2, randomFraction: 1 / 3, temperature: 0.3, seed: 6 });
const userOf = new Map<string, string>();
const textA = (item: string) => `the first completion of ${item}`;
const textB = (item: string) => `the second completion of ${item}`;

beforeAll(async () => {
  t = await createTestDatabase();
  const admin = await createUser(t.db, { role: "ADMIN" });
  adminCookie = admin.cookie;
  labelerCookie = (await createUser(t.db, { role: "LABELER", username: "idle-labeler" })).cookie;
  for (const l of data.labelers)
    userOf.set(l.id, (await t.db.user.create({ data: { username: `${l.kind}-${l.id}`, passwordHash: "x" } })).id);
  const version = await t.db.policyVersion.create({
    data: { name: "v0", checkpointUri: "file:/tmp/v0", checkpointSha256: "0".repeat(64), status: "SERVING" },
  });

  const prompts: { id: string; text: string; source: string }[] = [];
  const battles: object[] = [];
  const completions: object[] = [];
  const votes: object[] = [];
  const seenItem = new Set<string>();
  data.votes.forEach((v, k) => {
    if (!seenItem.has(v.item)) {
      seenItem.add(v.item);
      prompts.push({ id: `p-${v.item}`, text: `prompt of ${v.item}`, source: "test" });
    }
    // The second labeler of a pair sees it the other way round: the service must still match it.
    const reversed = votes.some((x) => (x as { item?: string }).item === v.item);
    const battleId = `b-${k}`;
    battles.push({
      id: battleId,
      promptId: `p-${v.item}`,
      labelerId: userOf.get(v.labeler)!,
      kind: "ON_POLICY",
      status: "VOTED",
      policyAId: version.id,
      policyBId: version.id,
      swapped: reversed,
      leaseExpiresAt: new Date(),
    });
    const common = {
      battleId,
      promptId: `p-${v.item}`,
      policyVersionId: version.id,
      promptTokenIds: [1],
      tokenIds: [2],
      temperature: 1,
      topP: 1,
      topK: 0,
      maxNewTokens: 8,
      seed: k,
      finishReason: "length",
      latencyMs: 1,
    };
    completions.push({ ...common, slot: "A", text: reversed ? textB(v.item) : textA(v.item) });
    completions.push({ ...common, slot: "B", text: reversed ? textA(v.item) : textB(v.item) });
    const choice = reversed ? (v.answer === "A" ? "B" : v.answer === "B" ? "A" : v.answer) : v.answer;
    votes.push({
      item: v.item,
      id: `v-${k}`,
      battleId,
      labelerId: userOf.get(v.labeler)!,
      choice,
      msToVote: 1000 + k,
      idempotencyKey: `key-${k}`,
    });
  });
  await t.db.prompt.createMany({ data: prompts });
  await t.db.battle.createMany({ data: battles as never });
  await t.db.completion.createMany({ data: completions as never });
  await t.db.vote.createMany({ data: votes.map(({ item: _item, ...v }: { item?: string }) => v) as never });
});
afterAll(() => t?.drop());

describe("labeler quality on stored votes", () => {
  it("matches overlap copies shown in either order, flags the random clickers and gives ε", async () => {
    const report = await labelerQuality({ db: t.db });
    expect(report.votes).toBe(data.votes.length);
    for (const l of data.labelers) {
      const row = report.labelers.find((r) => r.labelerId === userOf.get(l.id))!;
      expect(row.votes).toBe(80);
      expect(row.overlappingVotes).toBe(80);
      expect(row.medianMsToVote).toBeGreaterThan(1000);
      expect(row.flag, `${l.kind} ${l.id}`).toBe(l.kind === "random" ? "chance" : null);
    }
    expect(report.flipRate.estimate).toBeGreaterThan(0.05);
    expect(report.flipRate.estimate).toBeLessThan(0.4);
    // Least trustworthy first.
    expect(report.labelers[0]!.username.startsWith("random")).toBe(true);
    // A labeler who never voted: the prior, wide and finite.
    const idle = report.labelers.find((r) => r.username === "idle-labeler")!;
    expect(idle.flag).toBe("no-evidence");
    expect(idle.votes).toBe(0);
    expect(idle.reliability.upper - idle.reliability.lower).toBeGreaterThan(0.5);
    expect(Number.isFinite(idle.flipRate.estimate)).toBe(true);
  });

  it("imports gold pairs from JSONL with a report, and the model checks votes on the same pairs", async () => {
    const { caller } = await callerFor(t.db, adminCookie);
    const goldItems = [...data.truth.entries()].filter(([, answer]) => answer !== "TIE").slice(0, 40);
    const lines = goldItems.map(([item, answer], i) =>
      // Half of them written the other way round, with the answer flipped to match.
      i % 2
        ? JSON.stringify({
            prompt: `prompt of ${item}`,
            completion_a: textB(item),
            completion_b: textA(item),
            expected: answer === "A" ? "B" : "A",
            note: "reversed",
          })
        : JSON.stringify({
            prompt: `prompt of ${item}`,
            completion_a: textA(item),
            completion_b: textB(item),
            expected: answer.toLowerCase(),
          }),
    );
    const content = [
      ...lines,
      "not json",
      JSON.stringify({ prompt: "p", completion_a: "x", completion_b: "x", expected: "A" }),
      JSON.stringify({ prompt: "p", completion_a: "x", completion_b: "y", expected: "BOTH_BAD" }),
      JSON.stringify({ prompt: "", completion_a: "x", completion_b: "y", expected: "A" }),
      lines[0],
    ].join("\n");
    const report = await caller.quality.importGold({ content, filename: "gold.jsonl" });
    expect(report.added).toBe(40);
    expect(report.rejected.map((r) => r.line)).toEqual([41, 42, 43, 44, 45]);
    expect(report.rejected[0]!.reason).toMatch(/JSON/);
    expect(report.rejected[1]!.reason).toMatch(/same text/);
    expect(report.rejected[2]!.reason).toMatch(/"expected" must be/);
    expect(report.rejected[3]!.reason).toMatch(/"prompt" is empty/);
    expect(report.rejected[4]!.reason).toMatch(/earlier line/);
    expect((await caller.quality.importGold({ content: lines.slice(0, 3).join("\n") })).duplicates).toBe(3);

    const listed = await caller.quality.goldPairs({ status: "active", pageSize: 10 });
    expect(listed.total).toBe(40);
    expect(listed.pairs).toHaveLength(10);
    expect(listed.pairs[0]!.createdBy).not.toBeNull();

    const quality = await caller.quality.labelers();
    expect(quality.activeGoldPairs).toBe(40);
    expect(quality.goldVotes).toBe(80);
    const careful = data.labelers
      .filter((l) => l.kind === "careful")
      .map((l) => quality.labelers.find((r) => r.labelerId === userOf.get(l.id))!);
    const random = data.labelers
      .filter((l) => l.kind === "random")
      .map((l) => quality.labelers.find((r) => r.labelerId === userOf.get(l.id))!);
    const accuracy = (rows: typeof careful) => rows.reduce((s, r) => s + r.gold.correct, 0) / rows.reduce((s, r) => s + r.gold.total, 0);
    expect(careful.reduce((s, r) => s + r.gold.total, 0)).toBeGreaterThan(20);
    expect(accuracy(careful)).toBeGreaterThan(0.8);
    expect(accuracy(random)).toBeLessThan(0.75);

    // Deactivating a gold pair takes it out of the model; it is kept, not deleted.
    await caller.quality.setGoldActive({ goldPairId: listed.pairs[0]!.id, active: false });
    const after = await caller.quality.labelers();
    expect(after.activeGoldPairs).toBe(39);
    expect(after.goldVotes).toBe(78);
    expect((await caller.quality.goldPairs({ status: "inactive" })).total).toBe(1);
  });

  it("refuses bad input with a clear message and labelers with FORBIDDEN", async () => {
    const { caller } = await callerFor(t.db, adminCookie);
    await expect(caller.quality.setGoldActive({ goldPairId: "nope", active: true })).rejects.toThrow(/No gold pair/);
    await expect(caller.quality.importGold({ content: "" })).rejects.toThrow(/empty/);
    const { caller: labeler } = await callerFor(t.db, labelerCookie);
    const err = await labeler.quality.labelers().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TRPCError);
    expect((err as TRPCError).code).toBe("FORBIDDEN");
  });
});
