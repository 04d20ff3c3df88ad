// Votes → rating battles against a real database: which side won, ties, both-bad, the
// self-battles that train but do not rate, and batched reads that never skip a row.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadRatingBattles, loadVotedBattles, readVotedBattles } from "../../src/server/services/leaderboard/battle-records.ts";
import { refreshLeaderboard } from "../../src/server/services/leaderboard/cache.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { addVersions, addVotedBattle } from "./fixtures.ts";

let t: TestDatabase;
let versions: Record<string, number>;
let labelerId: string;
const t0 = Date.UTC(2026, 0, 1, 12, 0, 0);

beforeAll(async () => {
  t = await createTestDatabase();
  versions = await addVersions(t.db, ["v0", "v1", "v2"]);
  labelerId = (await t.db.user.create({ data: { username: "lab", passwordHash: "x" } })).id;
  const add = (a: string, b: string, choice: "A" | "B" | "TIE" | "BOTH_BAD", s: number) =>
    addVotedBattle(t.db, { versions, a, b, choice, labelerId, at: new Date(t0 + s * 1000) });
  // Inserted out of time order on purpose: the reader must order by vote time.
  await add("v0", "v1", "B", 2);
  await add("v1", "v0", "A", 1);
  await add("v1", "v2", "TIE", 3);
  await add("v2", "v0", "BOTH_BAD", 4);
  await add("v2", "v2", "A", 5);
});
afterAll(() => t?.drop());

describe("vote → battle record", () => {
  it("names model_a and model_b from the slots shown, maps each choice, and stamps the vote time", async () => {
    const rows = await loadVotedBattles({ db: t.db });
    expect(rows.map(({ modelA, modelB, winner, tstamp, kind }) => ({ modelA, modelB, winner, tstamp, kind }))).toEqual([
      { modelA: "v1", modelB: "v0", winner: "model_a", tstamp: t0 / 1000 + 1, kind: "VERSUS" },
      { modelA: "v0", modelB: "v1", winner: "model_b", tstamp: t0 / 1000 + 2, kind: "VERSUS" },
      { modelA: "v1", modelB: "v2", winner: "tie", tstamp: t0 / 1000 + 3, kind: "VERSUS" },
      { modelA: "v2", modelB: "v0", winner: "tie (bothbad)", tstamp: t0 / 1000 + 4, kind: "VERSUS" },
      { modelA: "v2", modelB: "v2", winner: "model_a", tstamp: t0 / 1000 + 5, kind: "ON_POLICY" },
    ]);
    expect(rows.every((r) => r.labelerId === labelerId)).toBe(true);
    // The leaderboard's array-shaped read gives the same battles and the mark of the newest vote.
    const lean = await loadRatingBattles({ db: t.db });
    expect(lean.battles).toEqual(rows.map(({ modelA, modelB, winner, tstamp }) => ({ modelA, modelB, winner, tstamp })));
    expect(lean.mark).toEqual({ votes: 5, lastVoteAtMs: t0 + 5000, excluded: "" });
  });

  it("counts self-battles apart and rates only the others", async () => {
    const snapshot = await refreshLeaderboard({ db: t.db });
    expect(snapshot.board.selfBattles).toBe(1);
    expect(snapshot.board.totalBattles).toBe(4);
    const row = (m: string) => snapshot.board.rows.find((r) => r.model === m)!;
    expect(row("v1")).toMatchObject({ battles: 3, wins: 2, losses: 0, ties: 1 });
    expect(row("v0")).toMatchObject({ battles: 3, wins: 0, losses: 2, ties: 1 });
    // v2's self-battle win is not a win: its only rated battles are a tie and a both-bad.
    expect(row("v2")).toMatchObject({ battles: 2, wins: 0, losses: 0, ties: 2 });
    expect(snapshot.board.rows[0]!.model).toBe("v1");
    expect(snapshot.mark.votes).toBe(5);
  });

  it("reads in pages without skipping or repeating votes that share a millisecond", async () => {
    const same = new Date(t0 + 10_000);
    for (let i = 0; i < 5; i++) await addVotedBattle(t.db, { versions, a: "v0", b: "v2", choice: "B", labelerId, at: same });
    const all = await loadVotedBattles({ db: t.db, batchSize: 2 });
    expect(all).toHaveLength(10);
    expect(new Set(all.map((r) => r.voteId)).size).toBe(10);
    const firstPage = await readVotedBattles({ db: t.db, limit: 3 });
    expect(firstPage.map((r) => r.voteId)).toEqual(all.slice(0, 3).map((r) => r.voteId));
  });
});
