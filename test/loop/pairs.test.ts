// Which votes a round trains on: decisive on-policy votes only, newest first.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { countUnusedDecisiveVotes, unusedPairs } from "../../src/server/services/rounds/pairs.ts";
import { registerTinyHouse, seedVotes } from "./fixtures.ts";

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t?.drop();
});

describe("unused pairs", () => {
  it("are the newest decisive votes (a backlog's oldest votes judged older versions), without ties", async () => {
    const v0 = await registerTinyHouse(t.db);
    const ids = await seedVotes(t.db, v0.id, 6, { ties: 2 });
    // distinct, known times: vote k was cast k minutes after the first
    const base = Date.now() - 3_600_000;
    for (const [k, id] of ids.entries()) await t.db.vote.update({ where: { id }, data: { createdAt: new Date(base + k * 60_000) } });
    expect(await countUnusedDecisiveVotes(t.db)).toBe(6);
    const pairs = await unusedPairs(t.db, 3);
    expect(pairs.map((p) => p.voteId)).toEqual([ids[5], ids[4], ids[3]]);
    for (const p of pairs) expect(p.chosen.tokenIds).not.toEqual(p.rejected.tokenIds);
  });
});
