// Issue 16 item 3: sampling capacity goes to battles someone will vote on. A skipped battle
// stops sampling and stores nothing; the sampler's queue is bounded and says "busy, retry".
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SamplerBusyError, SamplerPool } from "../../src/server/sampler/pool.ts";
import { nextBattle } from "../../src/server/services/battles/assign.ts";
import { type BattleEvent, watchBattle } from "../../src/server/services/battles/generate.ts";
import { skipBattle } from "../../src/server/services/battles/vote.ts";
import { type ArenaWorld, addLabeler, addPrompts, createArenaWorld } from "./helpers.ts";

let world: ArenaWorld;
beforeAll(async () => {
  world = await createArenaWorld();
}, 60_000);
afterAll(async () => {
  await world?.close();
});

describe("sampling limits", () => {
  it("stops sampling a battle that is skipped, and stores nothing for it", async () => {
    const { db } = world;
    await db.setting.update({ where: { key: "sampling" }, data: { value: { temperature: 1, topP: 1, topK: 0, maxNewTokens: 40 } } });
    await addPrompts(db, ["skip me"]);
    const olga = await addLabeler(db, "olga");
    const r = await nextBattle({ db, labelerId: olga.id });
    if (r.status !== "battle") throw new Error(r.status);
    const events: BattleEvent[] = [];
    const w = await watchBattle({
      db,
      sampler: async () => world.sampler,
      battleId: r.battle.battleId,
      labelerId: olga.id,
      onEvent: (e) => events.push(e),
    });
    await skipBattle({ db, labelerId: olga.id, battleId: r.battle.battleId });
    await w.finished;
    expect(events.at(-1)).toMatchObject({ type: "error", message: expect.stringMatching(/skipped/) });
    expect(await db.completion.count({ where: { battleId: r.battle.battleId } })).toBe(0);
  }, 60_000);

  it("refuses samples beyond its bound at once with a busy, retry answer", async () => {
    const v0 = await world.db.policyVersion.findFirstOrThrow({
      where: { status: "SERVING" },
      select: { id: true, name: true, checkpointUri: true, checkpointSha256: true },
    });
    const pool = new SamplerPool({ size: 1, backend: "cpu", checkpointRoot: path.resolve(".data/checkpoints"), maxPending: 2 });
    try {
      await pool.ready();
      await pool.load(v0);
      const ask = () =>
        pool.generate({ versionId: v0.id, promptText: "hello", n: 1, temperature: 1, topP: 1, topK: 0, maxNewTokens: 20, seed: 1 });
      const results = await Promise.allSettled([ask(), ask(), ask()]);
      expect(results.map((x) => x.status)).toEqual(["fulfilled", "fulfilled", "rejected"]);
      const reason = (results[2] as PromiseRejectedResult).reason as Error;
      expect(reason).toBeInstanceOf(SamplerBusyError);
      expect(reason.message).toMatch(/busy.*retry/);
      // Once the queue drains it accepts again.
      await expect(ask()).resolves.toHaveLength(1);
    } finally {
      await pool.close();
    }
  }, 60_000);
});
