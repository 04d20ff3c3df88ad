// Gold pairs in the arena, excluding a labeler, and who fills overlap slots (issue 15), against
// real Postgres and a real sampler: a gold battle is assigned, streamed and revealed like a
// sampled on-policy battle; its vote checks the labeler and never trains or rates; exclusion
// takes a labeler's votes out and brings them back.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "../../src/server/errors.ts";
import { updateArenaSettings } from "../../src/server/services/arena-settings/index.ts";
import { type NextBattleResult, nextBattle } from "../../src/server/services/battles/assign.ts";
import type { BattleEvent } from "../../src/server/services/battles/generate.ts";
import { forgetOverlapCounts } from "../../src/server/services/battles/overlap-preference.ts";
import { castVote, type VoteResult } from "../../src/server/services/battles/vote.ts";
import { readDecisiveVotes } from "../../src/server/services/export/trl.ts";
import { currentVoteMark, loadRatingBattles } from "../../src/server/services/leaderboard/battle-records.ts";
import { setLabelerExcluded } from "../../src/server/services/quality/exclusion.ts";
import { importGoldPairs, markBattleGold, setGoldPairActive } from "../../src/server/services/quality/gold-pairs.ts";
import { assignSplits, trainablePairs } from "../../src/server/services/rounds/pairs.ts";
import { labelerReport } from "../../src/server/services/stats/labelers.ts";
import { type ArenaWorld, addLabeler, addPrompts, createArenaWorld, streamToEnd } from "../arena/helpers.ts";

let world: ArenaWorld;
let adminId: string;
const always = () => 0;
const never = () => 0.99;

beforeAll(async () => {
  world = await createArenaWorld();
  adminId = (await world.db.user.create({ data: { username: "admin-gold", passwordHash: "x", role: "ADMIN" } })).id;
}, 60_000);

afterAll(async () => {
  await world?.close();
});

function battleOf(r: NextBattleResult) {
  if (r.status !== "battle") throw new Error(`expected a battle, got ${r.status}: ${"message" in r ? r.message : ""}`);
  return r.battle;
}

/** What a client can see of a battle's stream: event types in order, with runs of text collapsed. */
function shape(events: BattleEvent[]) {
  const kinds = events.map((e) => (e.type === "done" ? `done` : e.type));
  return kinds.filter((k, i) => k !== kinds[i - 1]);
}

const textOf = (events: BattleEvent[], slot: "A" | "B") =>
  (events.find((e) => e.type === "done" && e.slot === slot) as Extract<BattleEvent, { type: "done" }>).text;

async function play(labelerId: string, random: () => number, choice: "A" | "B" | "TIE") {
  const battle = battleOf(await nextBattle({ db: world.db, labelerId, random }));
  const events = await streamToEnd(world, battle.battleId, labelerId);
  const vote = await castVote({
    db: world.db,
    labelerId,
    battleId: battle.battleId,
    choice,
    idempotencyKey: `k-${battle.battleId}`,
    msToVote: 900,
  });
  return { battle, events, vote };
}

let sampled: { battle: { battleId: string }; events: BattleEvent[]; vote: VoteResult };
let gold: typeof sampled;
let alice: { id: string };
let bob: { id: string };

describe("gold battles", () => {
  it("are served at the gold rate and look like a sampled on-policy battle: assignment, stream and reveal", async () => {
    const { db } = world;
    await addPrompts(db, ["pool one", "pool two", "pool three", "pool four"]);
    alice = await addLabeler(db, "alice");
    bob = await addLabeler(db, "bob");
    // Without gold pairs the rate changes nothing (and draws nothing).
    sampled = await play(alice.id, always, "A");
    expect((await db.battle.findUniqueOrThrow({ where: { id: sampled.battle.battleId } })).goldPairId).toBeNull();

    const report = await importGoldPairs({
      db,
      createdById: adminId,
      content: JSON.stringify({ prompt: "gold prompt", completion_a: "a careful answer.", completion_b: "zzz zzz", expected: "A" }),
    });
    expect(report.added).toBe(1);
    await updateArenaSettings({ db, patch: { arena: { goldRate: 0.5 } } });
    gold = await play(bob.id, always, "B");

    const row = await db.battle.findUniqueOrThrow({ where: { id: gold.battle.battleId }, select: { goldPairId: true, swapped: true } });
    expect(row.goldPairId).not.toBeNull();
    expect(Object.keys(gold.battle).sort()).toEqual(Object.keys(sampled.battle).sort());
    expect(gold.battle).toMatchObject({ promptText: "gold prompt", ready: false });
    // The drawn order: random() = 0 puts completion B on the left.
    expect(row.swapped).toBe(true);
    expect(textOf(gold.events, "A")).toBe("zzz zzz");
    expect(textOf(gold.events, "B")).toBe("a careful answer.");
    // Streamed in pieces like a sample, not delivered whole.
    expect(gold.events.filter((e) => e.type === "text").length).toBeGreaterThan(4);
    expect(shape(gold.events)).toEqual(shape(sampled.events));
    expect(Object.keys(gold.events[0]!).sort()).toEqual(Object.keys(sampled.events[0]!).sort());
    const doneKeys = (es: BattleEvent[]) => es.filter((e) => e.type === "done").map((e) => Object.keys(e).sort());
    expect(doneKeys(gold.events)).toEqual(doneKeys(sampled.events));
    // The reveal names the serving version on both sides, as for any on-policy battle.
    expect(gold.vote.kind).toBe(sampled.vote.kind);
    expect(gold.vote.reveal).toEqual(sampled.vote.reveal);
    expect(gold.vote.reveal).toEqual({ A: world.v0.name, B: world.v0.name });

    // bob answered B, the careful answer in the order he saw: a correct gold answer.
    const stats = (await labelerReport({ db })).labelers.find((l) => l.labelerId === bob.id)!;
    expect(stats.gold).toEqual({ correct: 1, total: 1, accuracy: 1 });
    // The same gold pair is never served to him again.
    const next = battleOf(await nextBattle({ db, labelerId: bob.id, random: always }));
    expect((await db.battle.findUniqueOrThrow({ where: { id: next.battleId } })).goldPairId).toBeNull();
  }, 60_000);

  it("votes on gold battles never become training pairs, rating battles or exported pairs", async () => {
    const { db } = world;
    // Give the gold completions token ids, so only the gold rule can keep the vote out.
    await db.completion.updateMany({ where: { battleId: gold.battle.battleId }, data: { promptTokenIds: [1, 2], tokenIds: [3] } });
    await db.completion.updateMany({ where: { battleId: gold.battle.battleId, slot: "B" }, data: { tokenIds: [4] } });
    await assignSplits(db, 0);
    const pairs = await trainablePairs(db, { limit: 1000, versus: true });
    expect(pairs.map((p) => p.voteId)).toContain(sampled.vote.voteId);
    expect(pairs.map((p) => p.voteId)).not.toContain(gold.vote.voteId);
    const exported = await readDecisiveVotes(db, undefined, 1000);
    expect(exported.map((r) => r.vote_id)).toContain(sampled.vote.voteId);
    expect(exported.map((r) => r.vote_id)).not.toContain(gold.vote.voteId);
    const votes = await db.vote.count();
    const goldVotes = await db.vote.count({ where: { battle: { goldPairId: { not: null } } } });
    expect(goldVotes).toBe(1);
    expect((await loadRatingBattles({ db })).battles).toHaveLength(votes - goldVotes);
  });

  it("an admin marks a finished battle as gold: others get its pair as a gold battle, its first labeler never", async () => {
    const { db } = world;
    const imported = await db.goldPair.findFirstOrThrow({ where: { source: { startsWith: "import:" } } });
    await setGoldPairActive({ db, goldPairId: imported.id, active: false });
    const { goldPairId } = await markBattleGold({ db, battleId: sampled.battle.battleId, expected: "A", createdById: adminId });
    const pair = await db.goldPair.findUniqueOrThrow({ where: { id: goldPairId } });
    expect(pair).toMatchObject({ completionA: textOf(sampled.events, "A"), completionB: textOf(sampled.events, "B"), active: true });

    const carol = await addLabeler(db, "carol");
    const c = await play(carol.id, always, "A");
    expect((await db.battle.findUniqueOrThrow({ where: { id: c.battle.battleId } })).goldPairId).toBe(goldPairId);
    // alice judged that prompt: never served its gold copy, whatever the draw.
    const a = await nextBattle({ db, labelerId: alice.id, random: always });
    if (a.status === "battle") expect((await db.battle.findUniqueOrThrow({ where: { id: a.battle.battleId } })).goldPairId).toBeNull();

    const conflict = (p: Promise<unknown>) => expect(p).rejects.toSatisfy((e) => e instanceof AppError && e.code === "CONFLICT");
    await conflict(markBattleGold({ db, battleId: sampled.battle.battleId, expected: "B", createdById: adminId }));
    await conflict(markBattleGold({ db, battleId: c.battle.battleId, expected: "B", createdById: adminId }));
    await expect(markBattleGold({ db, battleId: "no-such-battle", expected: "A", createdById: adminId })).rejects.toSatisfy(
      (e) => e instanceof AppError && e.code === "NOT_FOUND",
    );
    // Gold prompts never enter the pool.
    const goldPrompts = await db.prompt.findMany({ where: { source: { startsWith: "gold:" } } });
    expect(goldPrompts.length).toBe(2);
    expect(goldPrompts.every((p) => !p.enabled && p.heldOut)).toBe(true);
  }, 60_000);
});

describe("excluding a labeler", () => {
  it("takes their votes out of training pools, ratings and exports, and brings them back; nothing is deleted", async () => {
    const { db } = world;
    await assignSplits(db, 0);
    const before = {
      pairs: (await trainablePairs(db, { limit: 1000, versus: true })).map((p) => p.voteId).sort(),
      ratings: (await loadRatingBattles({ db })).battles,
      exported: (await readDecisiveVotes(db, undefined, 1000)).map((r) => r.vote_id),
      votes: await db.vote.count(),
      mark: await currentVoteMark({ db }),
    };
    const aliceVotes = await db.vote.findMany({ where: { labelerId: alice.id, battle: { goldPairId: null } }, select: { id: true } });
    expect(aliceVotes.length).toBeGreaterThan(0);
    expect(before.pairs).toContain(sampled.vote.voteId);

    expect(await setLabelerExcluded({ db, labelerId: alice.id, excluded: true })).toMatchObject({ excluded: true });
    const pairs = (await trainablePairs(db, { limit: 1000, versus: true })).map((p) => p.voteId);
    expect(pairs).not.toContain(sampled.vote.voteId);
    expect(pairs.length).toBe(before.pairs.length - 1);
    expect((await loadRatingBattles({ db })).battles).toHaveLength(before.ratings.length - aliceVotes.length);
    expect((await readDecisiveVotes(db, undefined, 1000)).map((r) => r.vote_id)).not.toContain(sampled.vote.voteId);
    expect(await db.vote.count()).toBe(before.votes);
    // The leaderboard cache sees the change (same votes, different mark).
    const mark = await currentVoteMark({ db });
    expect(mark.votes).toBe(before.mark.votes);
    expect(mark.excluded).not.toBe(before.mark.excluded);

    await setLabelerExcluded({ db, labelerId: alice.id, excluded: false });
    expect((await trainablePairs(db, { limit: 1000, versus: true })).map((p) => p.voteId).sort()).toEqual(before.pairs);
    expect((await loadRatingBattles({ db })).battles).toEqual(before.ratings);
    expect((await readDecisiveVotes(db, undefined, 1000)).map((r) => r.vote_id)).toEqual(before.exported);
    expect(await currentVoteMark({ db })).toEqual(before.mark);
    await expect(setLabelerExcluded({ db, labelerId: "nobody", excluded: true })).rejects.toSatisfy(
      (e) => e instanceof AppError && e.code === "NOT_FOUND",
    );
  });
});

describe("overlap slots", () => {
  it("go first to labelers whose estimate is least certain; a well-checked labeler takes a fresh prompt first", async () => {
    const { db } = world;
    await updateArenaSettings({ db, patch: { arena: { goldRate: 0 } } });
    // henry has more checked votes (pairs someone else also judged) than the median labeler.
    const henry = await addLabeler(db, "henry");
    const ivy = await addLabeler(db, "ivy");
    for (let i = 0; i < 3; i++) {
      const p = await db.prompt.create({ data: { text: `checked ${i}`, source: "test", enabled: false, overlapTarget: 2 } });
      for (const who of [henry, ivy]) {
        const b = await db.battle.create({
          data: {
            promptId: p.id,
            labelerId: who.id,
            kind: "ON_POLICY",
            status: "VOTED",
            policyAId: world.v0.id,
            policyBId: world.v0.id,
            leaseExpiresAt: new Date(),
          },
        });
        await db.vote.create({ data: { battleId: b.id, labelerId: who.id, choice: "A", msToVote: 1, idempotencyKey: `c-${b.id}` } });
      }
    }
    await db.prompt.updateMany({ data: { enabled: false } });
    await addPrompts(db, ["overlap me"], 2);
    await addPrompts(db, ["fresh one"], 1);
    const jack = await addLabeler(db, "jack");
    const first = battleOf(await nextBattle({ db, labelerId: jack.id, random: never }));
    expect(first.promptText).toBe("overlap me");
    forgetOverlapCounts(db);

    expect(battleOf(await nextBattle({ db, labelerId: henry.id, random: never })).promptText).toBe("fresh one");
    const kim = await addLabeler(db, "kim");
    expect(battleOf(await nextBattle({ db, labelerId: kim.id, random: never })).promptText).toBe("overlap me");
  }, 60_000);

  it("with the preference off, whoever asks fills the overlap slot first", async () => {
    const { db } = world;
    await updateArenaSettings({ db, patch: { arena: { overlapPreferUncertain: false } } });
    await db.prompt.updateMany({ data: { enabled: false } });
    await addPrompts(db, ["overlap two"], 2);
    await addPrompts(db, ["fresh two"], 1);
    const lou = await addLabeler(db, "lou");
    expect(battleOf(await nextBattle({ db, labelerId: lou.id, random: never })).promptText).toBe("overlap two");
    const henry = await db.user.findUniqueOrThrow({ where: { username: "henry" } });
    // (his battle from the test above would be resumed otherwise)
    await db.battle.updateMany({ where: { labelerId: henry.id, status: "OPEN" }, data: { status: "SKIPPED" } });
    expect(battleOf(await nextBattle({ db, labelerId: henry.id, random: never })).promptText).toBe("overlap two");
  }, 60_000);
});
