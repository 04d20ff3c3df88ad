// Issue 16 item 6: until the vote, the two sides of a battle look alike. A side that starts late
// (an earlier version being loaded for a versus battle) must not stream alone, and an overlap
// copy (completions copied from another labeler's battle) must look like a fresh battle: no
// `ready` flag in arena.next, and its stream paced like sampling, not delivered at once.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BattleEvent, BattleSampler } from "../../src/server/services/battles/generate.ts";
import { watchBattle } from "../../src/server/services/battles/generate.ts";
import { createUser, httpClient } from "../api/fixtures.ts";
import { type ArenaWorld, addPrompts, createArenaWorld } from "./helpers.ts";

let world: ArenaWorld;
beforeAll(async () => {
  world = await createArenaWorld();
}, 120_000);
afterAll(() => world?.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function collect(
  battleId: string,
  labelerId: string,
  sampler: () => Promise<BattleSampler> = async () => world.sampler,
): Promise<{ events: BattleEvent[]; ms: number }> {
  const events: BattleEvent[] = [];
  const started = performance.now();
  let end!: () => void;
  const ended = new Promise<void>((r) => (end = r));
  const w = await watchBattle({
    db: world.db,
    sampler,
    battleId,
    labelerId,
    onEvent: (e) => {
      events.push(e);
      if (e.type === "ready" || e.type === "error") end();
    },
  });
  await Promise.race([ended, sleep(60_000)]);
  w.stop();
  return { events, ms: performance.now() - started };
}

describe("the two sides of a battle are indistinguishable until the vote", () => {
  it("a side that starts late holds both back: neither streams nor finishes alone", { timeout: 60_000 }, async () => {
    const { db, v0 } = world;
    const labeler = await createUser(db);
    const prompt = await db.prompt.create({ data: { text: "the late side", source: "test" } });
    // A versus battle: slot B names an earlier version (here v0 itself), which the sampler must
    // "load" first; the wrapper delays it as a model load would.
    const battle = await db.battle.create({
      data: {
        promptId: prompt.id,
        labelerId: labeler.user.id,
        kind: "VERSUS",
        policyAId: v0.id,
        policyBId: v0.id,
        swapped: false,
        leaseExpiresAt: new Date(Date.now() + 600_000),
      },
    });
    const slowLoad = async () => ({
      generate: async (o: Parameters<ArenaWorld["sampler"]["generate"]>[0]) => {
        if (o.versionId !== undefined) await sleep(800);
        return world.sampler.generate(o);
      },
    });
    const { events } = await collect(battle.id, labeler.user.id, slowLoad);
    expect(events.at(-1)).toEqual({ type: "ready" });
    const firstIndex = (type: string, slot: string) => events.findIndex((e) => e.type === type && "slot" in e && e.slot === slot);
    const firstTextA = firstIndex("text", "A");
    const firstTextB = firstIndex("text", "B");
    const firstDone = events.findIndex((e) => e.type === "done");
    // Both sides appear in the same moment (adjacent events), and nothing is finished before both showed text.
    if (firstTextA >= 0 && firstTextB >= 0) {
      expect(Math.abs(firstTextA - firstTextB)).toBe(1);
      expect(firstDone).toBeGreaterThan(Math.max(firstTextA, firstTextB));
    }
    // Each side's shown text never runs ahead of the other's by more than the other has sampled:
    // at every event, neither side is done while the other has shown nothing.
    const shown = { A: "", B: "" };
    const done = { A: false, B: false };
    for (const e of events) {
      if (e.type === "text") shown[e.slot] = shown[e.slot].slice(0, e.from) + e.append;
      if (e.type === "done") {
        done[e.slot] = true;
        const other = e.slot === "A" ? "B" : "A";
        expect(shown[other].length > 0 || done[other] || e.text.length === 0).toBe(true);
      }
    }
  });

  it("an overlap copy looks like a fresh battle in arena.next and in its stream", { timeout: 90_000 }, async () => {
    const { db } = world;
    await db.prompt.updateMany({ data: { enabled: false } });
    await addPrompts(db, ["an overlapping prompt"], 2);
    const http = httpClient(db);
    const first = await createUser(db);
    const second = await createUser(db);
    type Next = { status: string; battle: Record<string, unknown> & { battleId: string } };
    const next = async (cookie: string) =>
      ((await http.mutate("arena.next", {}, { cookie })).body as { result: { data: { json: Next } } }).result.data.json;

    const fresh = await next(first.cookie);
    const freshStream = await collect(fresh.battle.battleId, first.user.id);
    expect(freshStream.events.at(-1)).toEqual({ type: "ready" });
    // Pretend the sampling took a while, as it does for real models (the tiny one is instant).
    await db.completion.updateMany({ where: { battleId: fresh.battle.battleId }, data: { firstTokenMs: 300, latencyMs: 1500 } });

    const copy = await next(second.cookie);
    expect(await db.completion.count({ where: { battleId: copy.battle.battleId } })).toBe(2); // it is a copy
    expect(Object.keys(copy.battle).sort()).toEqual(Object.keys(fresh.battle).sort());
    expect(copy.battle).not.toHaveProperty("ready");

    const copyStream = await collect(copy.battle.battleId, second.user.id);
    expect(copyStream.events.at(-1)).toEqual({ type: "ready" });
    // Paced like the sampling it copies: no sooner than its recorded latency, text before done.
    expect(copyStream.ms).toBeGreaterThanOrEqual(1400);
    expect(copyStream.events[0]?.type).toBe("text");
    expect(copyStream.events.filter((e) => e.type === "text").length).toBeGreaterThan(2);
  });
});
