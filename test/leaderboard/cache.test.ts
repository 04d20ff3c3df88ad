// The leaderboard cache: computed once, kept in memory and in the Setting row, recomputed in
// the background when votes arrive, and read (not recomputed) by a fresh replica.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CACHE_SETTING_KEY,
  forgetLeaderboardMemory,
  getLeaderboard,
  leaderboardRefreshInFlight,
  readStoredSnapshot,
} from "../../src/server/services/leaderboard/cache.ts";
import { EARLY_DATA_L2 } from "../../src/server/services/leaderboard/snapshot.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { addVersions, addVotedBattle } from "./fixtures.ts";

let t: TestDatabase;
let versions: Record<string, number>;
let labelerId: string;
let clock = Date.UTC(2026, 0, 1);

async function votes(a: string, b: string, choice: "A" | "B" | "TIE", count: number) {
  for (let i = 0; i < count; i++) await addVotedBattle(t.db, { versions, a, b, choice, labelerId, at: new Date((clock += 1000)) });
}

beforeAll(async () => {
  t = await createTestDatabase();
  versions = await addVersions(t.db, ["v0", "v1", "v2"]);
  labelerId = (await t.db.user.create({ data: { username: "lab", passwordHash: "x" } })).id;
});
afterAll(() => t?.drop());

describe("leaderboard cache", () => {
  it("computes an empty board on the very first view and stores it", async () => {
    const first = await getLeaderboard({ db: t.db, markMaxAgeMs: 0 });
    expect(first.status).toBe("fresh");
    expect(first.snapshot.board.rows).toEqual([]);
    expect(first.snapshot.mark).toEqual({ votes: 0, lastVoteAtMs: null, excluded: "" });
    expect((await readStoredSnapshot({ db: t.db }))?.computedAt).toBe(first.snapshot.computedAt);
  });

  it("answers from the stale snapshot when votes arrive, recomputes in the background, then is fresh", async () => {
    // v1 beats v0 3:1 over 40 battles, both won and lost: the plain MLE exists.
    await votes("v1", "v0", "A", 15);
    await votes("v0", "v1", "B", 15);
    await votes("v0", "v1", "A", 10);

    const stale = await getLeaderboard({ db: t.db, markMaxAgeMs: 0 });
    expect(stale.status).toBe("stale");
    expect(stale.snapshot.mark.votes).toBe(0);
    expect(stale.currentVotes).toBe(40);
    const running = leaderboardRefreshInFlight({ db: t.db });
    expect(running).not.toBeNull();
    await running;

    const fresh = await getLeaderboard({ db: t.db, markMaxAgeMs: 0 });
    expect(fresh.status).toBe("fresh");
    expect(fresh.snapshot.mark.votes).toBe(40);
    expect(leaderboardRefreshInFlight({ db: t.db })).toBeNull();
    const [top, bottom] = fresh.snapshot.board.rows;
    expect([top!.model, bottom!.model]).toEqual(["v1", "v0"]);
    // Two models, 30 wins to 10: the Bradley–Terry gap is 400·log10(3) in closed form.
    expect(fresh.snapshot.l2).toBeNull();
    expect(top!.rating - bottom!.rating).toBeCloseTo(400 * Math.log10(3), 4);
    expect(top!.ci[0]).toBeLessThan(top!.rating);
    expect(top!.ci[1]).toBeGreaterThan(top!.rating);
  });

  it("does not recompute while nothing changed", async () => {
    const a = await getLeaderboard({ db: t.db, markMaxAgeMs: 0 });
    const b = await getLeaderboard({ db: t.db, markMaxAgeMs: 0 });
    expect(b.snapshot.computedAt).toBe(a.snapshot.computedAt);
    expect(leaderboardRefreshInFlight({ db: t.db })).toBeNull();
  });

  it("lets a fresh replica render the stored snapshot without computing", async () => {
    const stored = await readStoredSnapshot({ db: t.db });
    expect(stored?.mark.votes).toBe(40);
    forgetLeaderboardMemory({ db: t.db });
    const replica = await getLeaderboard({ db: t.db, markMaxAgeMs: 0 });
    expect(replica.status).toBe("fresh");
    expect(replica.snapshot.computedAt).toBe(stored!.computedAt);
    expect(leaderboardRefreshInFlight({ db: t.db })).toBeNull();
  });

  it("a replica picks up a snapshot another replica stored for newer votes instead of recomputing", async () => {
    await votes("v1", "v0", "A", 1);
    const other = await getLeaderboard({ db: t.db, markMaxAgeMs: 0 }); // this process acts as the replica that recomputes
    expect(other.status).toBe("stale");
    await leaderboardRefreshInFlight({ db: t.db });
    const computedAt = (await readStoredSnapshot({ db: t.db }))!.computedAt;
    forgetLeaderboardMemory({ db: t.db });
    const view = await getLeaderboard({ db: t.db, markMaxAgeMs: 0 });
    expect(view).toMatchObject({ status: "fresh", currentVotes: 41 });
    expect(view.snapshot.computedAt).toBe(computedAt);
  });

  it("never lets an older snapshot overwrite a newer stored one", async () => {
    const before = (await readStoredSnapshot({ db: t.db }))!;
    await t.db.setting.update({
      where: { key: CACHE_SETTING_KEY },
      data: { value: { ...before, mark: { ...before.mark, votes: 10_000 } } as object },
    });
    forgetLeaderboardMemory({ db: t.db });
    await votes("v1", "v0", "B", 1);
    // The stored row claims more votes than exist; our recomputation must not replace it.
    const view = await getLeaderboard({ db: t.db, markMaxAgeMs: 0 });
    await leaderboardRefreshInFlight({ db: t.db });
    expect(view.snapshot.mark.votes).toBe(10_000);
    expect((await readStoredSnapshot({ db: t.db }))!.mark.votes).toBe(10_000);
    await t.db.setting.delete({ where: { key: CACHE_SETTING_KEY } });
    forgetLeaderboardMemory({ db: t.db });
  });

  it("keeps an unbeaten newcomer finite with the early-data penalty and says so", async () => {
    await votes("v2", "v1", "A", 3);
    await votes("v2", "v0", "TIE", 1);
    const view = await getLeaderboard({ db: t.db, markMaxAgeMs: 0 }); // no stored snapshot: computed in the request
    expect(view.status).toBe("fresh");
    const { board, l2 } = view.snapshot;
    expect(l2).toBe(EARLY_DATA_L2);
    expect(board.rows[0]!.model).toBe("v2");
    for (const row of board.rows) {
      expect(Number.isFinite(row.rating)).toBe(true);
      expect(row.ci.every(Number.isFinite)).toBe(true);
      expect(row.rating).toBeLessThan(2000);
    }
    const history = view.snapshot.history;
    expect(history.points.at(-1)!.battles).toBe(board.totalBattles);
    expect(history.bt.v2!.at(-1)).toBeCloseTo(board.rows[0]!.rating, -1);
    expect(history.bt.v2![0]).toBeNull(); // v2 had not played yet at the first snapshot
  });

  it("shares one vote-count check among the views of the same second", async () => {
    const before = await getLeaderboard({ db: t.db, markMaxAgeMs: 60_000 });
    await votes("v1", "v0", "A", 1);
    // Within the check's age the new vote is not seen yet; with a fresh check it is.
    expect(await getLeaderboard({ db: t.db, markMaxAgeMs: 60_000 })).toMatchObject({
      status: before.status,
      currentVotes: before.currentVotes,
    });
    const now = await getLeaderboard({ db: t.db, markMaxAgeMs: 0 });
    expect(now.currentVotes).toBe(before.currentVotes + 1);
    await leaderboardRefreshInFlight({ db: t.db });
  });
});
