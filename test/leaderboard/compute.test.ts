// Issue 16 item 4: a web process computes the leaderboard in a worker thread (its own database
// connection), not on its event loop; the result is the same snapshot the inline path computes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrismaClient } from "../../src/server/db/client.ts";
import { computeLeaderboardSnapshot } from "../../src/server/services/leaderboard/compute.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { addVersions, addVotedBattle, type Choice } from "./fixtures.ts";

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  const labelerId = (await t.db.user.create({ data: { username: "lab", passwordHash: "x" } })).id;
  const versions = await addVersions(t.db, ["v0", "v1", "v2"]);
  const choices: Choice[] = ["A", "B", "A", "TIE", "A", "BOTH_BAD", "B", "A"];
  let clock = Date.UTC(2026, 0, 1);
  for (let i = 0; i < 48; i++) {
    const [a, b] = [
      ["v0", "v1"],
      ["v1", "v2"],
      ["v0", "v2"],
    ][i % 3]!;
    await addVotedBattle(t.db, { versions, a: a!, b: b!, choice: choices[i % choices.length]!, labelerId, at: new Date((clock += 1000)) });
  }
}, 60_000);
afterAll(() => t?.drop());

describe("leaderboard computation off the event loop", () => {
  it("runs in a worker thread for a client made from a URL, with the inline path's result", { timeout: 120_000 }, async () => {
    const thread = await computeLeaderboardSnapshot({ db: t.db });
    const inline = await computeLeaderboardSnapshot({ db: t.db, where: "inline" });
    expect(thread.where).toBe("thread");
    expect(inline.where).toBe("inline");
    expect(thread.snapshot.mark).toEqual({ votes: 48, lastVoteAtMs: inline.snapshot.mark.lastVoteAtMs, excluded: "" });
    // fixed bootstrap seed: the same numbers either way
    expect(thread.snapshot.board).toEqual(inline.snapshot.board);
    expect(thread.snapshot.history).toEqual(inline.snapshot.history);
  });

  it("reports a database error from the thread instead of hanging", { timeout: 120_000 }, async () => {
    const broken = createPrismaClient(t.url.replace(/\/[^/]+$/, "/dpo_no_such_database"));
    await expect(computeLeaderboardSnapshot({ db: broken })).rejects.toThrow(/leaderboard computation failed/);
    await broken.$disconnect();
  });
});
