// Issue 16 item 3: the open-battle cap holds under concurrency (a batch of 20 `arena.next`
// calls used to give one labeler 20 open battles).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_OPEN_BATTLES, nextBattle } from "../../src/server/services/battles/assign.ts";
import { type ArenaWorld, addLabeler, addPrompts, createArenaWorld } from "./helpers.ts";

let world: ArenaWorld;
beforeAll(async () => {
  world = await createArenaWorld();
}, 60_000);
afterAll(async () => {
  await world?.close();
});

describe("open-battle cap", () => {
  it("gives one labeler at most the cap of open battles from 20 concurrent requests", async () => {
    const { db } = world;
    await addPrompts(
      db,
      Array.from({ length: 30 }, (_, i) => `cap prompt ${i}`),
    );
    const nina = await addLabeler(db, "nina");
    // Each asks for a battle other than the ones it "has", as a prefetching client does.
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () => nextBattle({ db, labelerId: nina.id, excludeBattleIds: ["unknown1", "unknown2"] })),
    );
    expect(await db.battle.count({ where: { labelerId: nina.id, status: "OPEN" } })).toBeLessThanOrEqual(MAX_OPEN_BATTLES);
    // Every request got an answer: a battle (new or resumed) or the clear "vote or skip one first".
    for (const r of results) if (r.status === "rejected") expect(String((r.reason as Error).message)).toMatch(/open battles/);
  }, 60_000);
});
