// An overlap prompt's second labeler normally gets a copy of the pair the first one judged. A
// pair from an external contestant that an admin has since removed is not shown again: the
// second labeler gets a freshly sampled pair of the serving model instead. (Found by the browser
// suite: a removed contestant kept reaching new labelers through overlap copies.)
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NextBattleResult, nextBattle } from "../../src/server/services/battles/assign.ts";
import { type ArenaWorld, addLabeler, addPrompts, createArenaWorld } from "../arena/helpers.ts";

let world: ArenaWorld;
beforeAll(async () => {
  world = await createArenaWorld();
}, 60_000);
afterAll(async () => {
  await world?.close();
});

function battleOf(r: NextBattleResult) {
  if (r.status !== "battle") throw new Error(`expected a battle, got ${r.status}`);
  return r.battle;
}

/** A voted-on contestant battle with both completions stored, as the first labeler left it. */
async function judgedContestantBattle(promptText: string, removed: boolean) {
  const { db, v0 } = world;
  const contestant = await db.contestant.create({
    data: {
      name: `other-${promptText.length}-${removed}`,
      baseUrl: "http://127.0.0.1:1/v1",
      model: "m",
      removedAt: removed ? new Date() : null,
    },
  });
  await addPrompts(db, [promptText], 2);
  const prompt = await db.prompt.findFirstOrThrow({ where: { text: promptText } });
  const first = await addLabeler(db, `first-${promptText.length}-${removed}`);
  const battle = await db.battle.create({
    data: {
      promptId: prompt.id,
      labelerId: first.id,
      kind: "CONTESTANT",
      status: "VOTED",
      policyAId: v0.id,
      policyBId: null,
      contestantId: contestant.id,
      leaseExpiresAt: new Date(Date.now() + 60_000),
    },
  });
  const common = { battleId: battle.id, promptId: prompt.id, promptTokenIds: [256], temperature: 1, topP: 1, topK: 0, maxNewTokens: 6 };
  await db.completion.createMany({
    data: [
      { ...common, slot: "A", policyVersionId: v0.id, text: " ours", tokenIds: [32], seed: 1, finishReason: "length", latencyMs: 10 },
      { ...common, slot: "B", contestantId: contestant.id, text: " theirs", tokenIds: [], seed: 0, finishReason: "stop", latencyMs: 10 },
    ],
  });
  await db.vote.create({
    data: { battleId: battle.id, labelerId: first.id, choice: "A", msToVote: 900, idempotencyKey: `v-${battle.id}` },
  });
  return prompt.id;
}

describe("overlap copies of contestant battles", () => {
  it("copies a live contestant's pair to the second labeler, but not a removed contestant's", async () => {
    const { db } = world;
    const live = await judgedContestantBattle("a prompt whose contestant still competes", false);
    const second = await addLabeler(db, "second");
    const copy = battleOf(await nextBattle({ db, labelerId: second.id }));
    expect(copy.promptId).toBe(live);
    expect((await db.battle.findUniqueOrThrow({ where: { id: copy.battleId } })).kind).toBe("CONTESTANT");

    const gone = await judgedContestantBattle("a prompt whose contestant was removed", true);
    const third = await addLabeler(db, "third");
    const fresh = battleOf(await nextBattle({ db, labelerId: third.id }));
    const next = fresh.promptId === gone ? fresh : battleOf(await nextBattle({ db, labelerId: third.id }));
    expect(next.promptId).toBe(gone);
    const row = await db.battle.findUniqueOrThrow({ where: { id: next.battleId }, include: { completions: true } });
    expect(row.kind).not.toBe("CONTESTANT");
    expect(row.contestantId).toBeNull();
    expect(row.completions).toEqual([]); // sampled afresh when watched, not copied
  });

  it("does not copy a pair of a version that no longer serves: after a swap the prompt gets a new pair", async () => {
    const { db, v0 } = world;
    await addPrompts(db, ["a prompt judged before the swap"], 2);
    const prompt = await db.prompt.findFirstOrThrow({ where: { text: "a prompt judged before the swap" } });
    const first = await addLabeler(db, "before-swap");
    const old = await db.battle.create({
      data: {
        promptId: prompt.id,
        labelerId: first.id,
        kind: "ON_POLICY",
        status: "VOTED",
        policyAId: v0.id,
        policyBId: v0.id,
        leaseExpiresAt: new Date(Date.now() + 60_000),
      },
    });
    const common = {
      battleId: old.id,
      promptId: prompt.id,
      policyVersionId: v0.id,
      promptTokenIds: [256],
      temperature: 1,
      topP: 1,
      topK: 0,
      maxNewTokens: 6,
    };
    await db.completion.createMany({
      data: [
        { ...common, slot: "A", text: " one", tokenIds: [32], seed: 1, finishReason: "length", latencyMs: 10 },
        { ...common, slot: "B", text: " two", tokenIds: [33], seed: 2, finishReason: "length", latencyMs: 10 },
      ],
    });
    await db.vote.create({ data: { battleId: old.id, labelerId: first.id, choice: "B", msToVote: 900, idempotencyKey: `v-${old.id}` } });
    // A swap: v0 retires, another version serves.
    const v = await db.policyVersion.findUniqueOrThrow({ where: { id: v0.id } });
    await db.policyVersion.update({ where: { id: v0.id }, data: { status: "RETIRED" } });
    const v1 = await db.policyVersion.create({
      data: {
        name: "v1-after-swap",
        parentId: v0.id,
        checkpointUri: v.checkpointUri,
        checkpointSha256: v.checkpointSha256,
        status: "SERVING",
        modelConfig: v.modelConfig ?? undefined,
      },
    });
    try {
      const later = await addLabeler(db, "after-swap");
      let got = battleOf(await nextBattle({ db, labelerId: later.id }));
      for (let i = 0; i < 5 && got.promptId !== prompt.id; i++) got = battleOf(await nextBattle({ db, labelerId: later.id }));
      expect(got.promptId).toBe(prompt.id);
      const row = await db.battle.findUniqueOrThrow({ where: { id: got.battleId }, include: { completions: true } });
      expect(row.completions).toEqual([]); // not a copy of v0's pair
      expect(row.policyAId === v1.id || row.policyBId === v1.id).toBe(true);
    } finally {
      await db.policyVersion.update({ where: { id: v1.id }, data: { status: "RETIRED" } });
      await db.policyVersion.update({ where: { id: v0.id }, data: { status: "SERVING" } });
    }
  });
});
