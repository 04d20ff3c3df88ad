// Two web replicas may sample the same battle (a reconnect that reaches another process). The
// unique Completion(battleId, slot) lets only one store its completions; the other must adopt
// the stored ones, so the labeler sees and votes on the texts that were kept
// (services/battles/sample-battle.ts, storeOrAdopt).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BattleEvent, BattleSampler } from "../../src/server/services/battles/generate.ts";
import { watchBattle } from "../../src/server/services/battles/generate.ts";
import { createUser } from "../api/fixtures.ts";
import { type ArenaWorld, createArenaWorld } from "./helpers.ts";

let world: ArenaWorld;
beforeAll(async () => {
  world = await createArenaWorld();
}, 120_000);
afterAll(() => world?.close());

describe("a battle sampled by two processes", () => {
  it("the one that stores second shows the stored completions, not its own", { timeout: 60_000 }, async () => {
    const { db, v0 } = world;
    const labeler = await createUser(db);
    const prompt = await db.prompt.create({ data: { text: "the race between replicas", source: "test" } });
    const battle = await db.battle.create({
      data: {
        promptId: prompt.id,
        labelerId: labeler.user.id,
        kind: "ON_POLICY",
        policyAId: v0.id,
        policyBId: v0.id,
        swapped: false,
        leaseExpiresAt: new Date(Date.now() + 600_000),
      },
    });
    // The other replica: it finishes while this one samples and stores its own two texts first.
    const stored = { A: "the other replica's A", B: "the other replica's B" };
    const otherReplicaWins: BattleSampler = {
      generate: async (o) => {
        const mine = await world.sampler.generate(o);
        await db.completion.createMany({
          data: (["A", "B"] as const).map((slot) => ({
            battleId: battle.id,
            slot,
            promptId: prompt.id,
            policyVersionId: v0.id,
            text: stored[slot],
            promptTokenIds: [],
            tokenIds: [],
            temperature: 1,
            topP: 1,
            topK: 0,
            maxNewTokens: 6,
            seed: 1,
            finishReason: "length",
            latencyMs: 1,
          })),
        });
        return mine;
      },
    };
    const events: BattleEvent[] = [];
    let end!: () => void;
    const ended = new Promise<void>((r) => (end = r));
    const w = await watchBattle({
      db,
      sampler: async () => otherReplicaWins,
      battleId: battle.id,
      labelerId: labeler.user.id,
      onEvent: (e) => {
        events.push(e);
        if (e.type === "ready" || e.type === "error") end();
      },
    });
    await ended;
    w.stop();
    expect(events.at(-1)).toEqual({ type: "ready" });
    // Whatever streamed before, each slot's last "done" is the stored text.
    for (const slot of ["A", "B"] as const) {
      const done = events.filter((e): e is Extract<BattleEvent, { type: "done" }> => e.type === "done" && e.slot === slot);
      expect(done.at(-1)?.text).toBe(stored[slot]);
    }
    const rows = await db.completion.findMany({
      where: { battleId: battle.id },
      select: { slot: true, text: true },
      orderBy: { slot: "asc" },
    });
    expect(rows).toEqual([
      { slot: "A", text: stored.A },
      { slot: "B", text: stored.B },
    ]);
  });
});
