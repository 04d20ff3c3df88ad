// Round preparation with labeler quality (dpo.labelerWeighting): two careful labelers and a coin
// flipper judge the same pairs; "weight" gives each training pair the probability that its vote
// is right, "exclude" drops the doubtful ones, "off" leaves pairs unweighted.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dpoSchema } from "../../src/dpo/config.ts";
import { byteTokenizer, encodePrompt } from "../../src/lm/index.ts";
import { getLeaderboard, refreshLeaderboard } from "../../src/server/services/leaderboard/cache.ts";
import { setLeaderboardQuality } from "../../src/server/services/leaderboard/labeler-quality-filter.ts";
import { gatherPairs, toPair } from "../../src/server/services/rounds/prepare.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { registerTinyHouse } from "./fixtures.ts";

let t: TestDatabase;
const tok = byteTokenizer();
const model = { nPositions: 128, vocabSize: 260 };
const coinVotes = new Map<string, "A" | "B">();
let coinId = "";

beforeAll(async () => {
  t = await createTestDatabase();
  const v0 = await registerTinyHouse(t.db);
  const labelers = await Promise.all(
    ["careful-1", "careful-2", "coin"].map((username) => t.db.user.create({ data: { username, passwordHash: "x" } })),
  );
  coinId = labelers[2]!.id;
  const prompts: object[] = [];
  const battles: object[] = [];
  const completions: object[] = [];
  const votes: { id: string; battleId: string; labelerId: string; choice: "A" | "B"; msToVote: number; idempotencyKey: string }[] = [];
  for (let k = 0; k < 40; k++) {
    const text = `Weighted prompt ${k}`;
    const promptId = `wp-${k}`;
    prompts.push({ id: promptId, text, source: "test", overlapTarget: 3 });
    for (const [j, labeler] of labelers.entries()) {
      const battleId = `wb-${k}-${j}`;
      battles.push({
        id: battleId,
        promptId,
        labelerId: labeler.id,
        kind: "ON_POLICY",
        status: "VOTED",
        policyAId: v0.id,
        policyBId: v0.id,
        leaseExpiresAt: new Date(),
      });
      for (const [slot, word] of [
        ["A", ` kind words ${k}`],
        ["B", ` rude words ${k}`],
      ] as const) {
        completions.push({
          battleId,
          slot,
          promptId,
          policyVersionId: v0.id,
          text: word,
          promptTokenIds: encodePrompt(tok, text),
          tokenIds: tok.encode(word),
          temperature: 1,
          topP: 1,
          topK: 0,
          maxNewTokens: 8,
          seed: k,
          finishReason: "length",
          latencyMs: 1,
        });
      }
      // The careful labelers always prefer the kind words; the coin flipper alternates.
      const choice = j < 2 ? "A" : k % 2 ? "A" : "B";
      votes.push({ id: `wv-${k}-${j}`, battleId, labelerId: labeler.id, choice, msToVote: 500, idempotencyKey: `w-${battleId}` });
      if (j === 2) coinVotes.set(`wv-${k}-${j}`, choice);
    }
  }
  await t.db.prompt.createMany({ data: prompts as never });
  await t.db.battle.createMany({ data: battles as never });
  await t.db.completion.createMany({ data: completions as never });
  await t.db.vote.createMany({ data: votes });
}, 240_000);
afterAll(() => t?.drop());

const settings = (labelerWeighting: "off" | "weight" | "exclude") => dpoSchema.parse({ labelerWeighting, heldoutFraction: 0 });

describe("labeler quality in round preparation", () => {
  it("weight: each training pair counts by the probability that its vote is right", async () => {
    const { train, usage } = await gatherPairs(t.db, settings("weight"), model);
    expect(train).toHaveLength(120);
    const weightOf = (p: (typeof train)[number]) => toPair(p).weight!;
    const careful = train.filter((p) => !coinVotes.has(p.vote.voteId)).map(weightOf);
    const coinWrong = train.filter((p) => coinVotes.get(p.vote.voteId) === "B").map(weightOf);
    expect(careful.every((w) => w > 0.8 && w <= 1)).toBe(true);
    expect(coinWrong).toHaveLength(20);
    expect(coinWrong.every((w) => w < 0.2)).toBe(true);
    expect(usage.meanWeight).toBeGreaterThan(0.5);
    expect(usage.meanWeight).toBeLessThan(1);
  });

  it("exclude: drops the votes below the confidence threshold and says how many", async () => {
    const { train, usage } = await gatherPairs(t.db, settings("exclude"), model);
    const kept = new Set(train.map((p) => p.vote.voteId));
    for (const [voteId, choice] of coinVotes) if (choice === "B") expect(kept.has(voteId)).toBe(false);
    expect(train.filter((p) => !coinVotes.has(p.vote.voteId))).toHaveLength(80);
    expect(usage.doubtful).toBe(120 - train.length);
    expect(train.every((p) => toPair(p).weight === undefined)).toBe(true);
  });

  it("off: every vote counts the same (no weights), as before", async () => {
    const { train, usage } = await gatherPairs(t.db, settings("off"), model);
    expect(train).toHaveLength(120);
    expect(train.every((p) => toPair(p).weight === undefined)).toBe(true);
    expect(usage).not.toHaveProperty("doubtful");
    expect(usage).not.toHaveProperty("meanWeight");
    expect(coinId).not.toBe("");
  });

  it("the leaderboard rates every vote by default and can leave the doubtful ones out; switching recomputes", async () => {
    // All battles here are v0 against itself: the board counts them as self-battles.
    expect((await refreshLeaderboard({ db: t.db })).board.selfBattles).toBe(120);
    await setLeaderboardQuality({ db: t.db, quality: { mode: "exclude-doubtful", minConfidence: 0.5 } });
    expect((await getLeaderboard({ db: t.db, markMaxAgeMs: 0 })).status).toBe("stale");
    expect((await refreshLeaderboard({ db: t.db })).board.selfBattles).toBe(100);
    await setLeaderboardQuality({ db: t.db, quality: { mode: "all", minConfidence: 0.5 } });
    expect((await refreshLeaderboard({ db: t.db })).board.selfBattles).toBe(120);
  });
});
