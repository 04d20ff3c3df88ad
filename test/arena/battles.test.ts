// Battles end to end against real Postgres and a real sampler (tiny GPT in a worker thread):
// assignment rules, overlap target, leases, streaming, and the vote's guarantees.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "../../src/server/errors.ts";
import { overshootFor } from "../../src/server/sampler/stop-rule.ts";
import { expireLeases, type NextBattleResult, nextBattle } from "../../src/server/services/battles/assign.ts";
import { displayText } from "../../src/server/services/battles/generate.ts";
import { castVote, skipBattle } from "../../src/server/services/battles/vote.ts";
import { myStats } from "../../src/server/services/stats/labelers.ts";
import { registerTinyHouse } from "../loop/fixtures.ts";
import { type ArenaWorld, addLabeler, addPrompts, createArenaWorld, streamToEnd } from "./helpers.ts";

let world: ArenaWorld;

beforeAll(async () => {
  world = await createArenaWorld();
}, 60_000);

afterAll(async () => {
  await world?.close();
});

function battleOf(r: NextBattleResult) {
  if (r.status !== "battle") throw new Error(`expected a battle, got ${r.status}: ${"message" in r ? r.message : ""}`);
  return r.battle;
}

async function expectAppError(p: Promise<unknown>, code: string, message?: RegExp) {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  expect((err as AppError).code).toBe(code);
  if (message) expect((err as AppError).userMessage).toMatch(message);
}

describe("assignment", () => {
  it("never serves a labeler their own prompt, a voted one, or a skipped one; overlap target 1 gives each prompt to one labeler", async () => {
    const { db } = world;
    const alice = await addLabeler(db, "alice");
    const bob = await addLabeler(db, "bob");
    await db.prompt.deleteMany({});
    await addPrompts(db, ["p1", "p2", "p3"]);
    await db.prompt.create({ data: { text: "alice wrote this", source: "labeler", authorId: alice.id } });

    const seen: string[] = [];
    // alice: vote one, skip one, vote one; then nothing is left for her (her own prompt excluded).
    for (const action of ["vote", "skip", "vote"] as const) {
      const b = battleOf(await nextBattle({ db, labelerId: alice.id }));
      seen.push(b.promptText);
      if (action === "skip") await skipBattle({ db, labelerId: alice.id, battleId: b.battleId });
      else {
        await streamToEnd(world, b.battleId, alice.id);
        await castVote({
          db,
          labelerId: alice.id,
          battleId: b.battleId,
          choice: "A",
          idempotencyKey: `alice-${b.battleId}`,
          msToVote: 900,
        });
      }
    }
    expect(seen).not.toContain("alice wrote this");
    expect(new Set(seen).size).toBe(3);
    expect((await nextBattle({ db, labelerId: alice.id })).status).toBe("empty");

    // bob: the two voted prompts reached their target; the skipped one went back, plus alice's.
    const forBob: string[] = [];
    for (let i = 0; i < 2; i++) {
      const b = battleOf(await nextBattle({ db, labelerId: bob.id }));
      forBob.push(b.promptText);
      await skipBattle({ db, labelerId: bob.id, battleId: b.battleId });
    }
    expect(forBob.sort()).toEqual([seen[1], "alice wrote this"].sort());
    expect((await nextBattle({ db, labelerId: bob.id })).status).toBe("empty");
  }, 60_000);

  it("concurrent assignments never overfill a prompt's overlap target nor give one labeler a prompt twice", async () => {
    const { db } = world;
    await db.prompt.updateMany({ data: { enabled: false } });
    await addPrompts(db, ["race 1", "race 2", "race 3", "race 4"], 2);
    const labelers = await Promise.all(Array.from({ length: 6 }, (_, i) => addLabeler(db, `racer${i}`)));
    // every labeler asks three times at once (three tabs), all labelers at the same moment
    const results = await Promise.all(
      labelers.flatMap((l) => [0, 1, 2].map(() => nextBattle({ db, labelerId: l.id }).then((r) => ({ l: l.id, r })))),
    );
    const battles = await db.battle.findMany({
      where: { prompt: { text: { startsWith: "race " } } },
      select: { promptId: true, labelerId: true },
    });
    const perPrompt = new Map<string, Set<string>>();
    for (const b of battles) {
      const set = perPrompt.get(b.promptId) ?? new Set();
      expect(set.has(b.labelerId)).toBe(false); // never the same prompt twice to one labeler
      set.add(b.labelerId);
      perPrompt.set(b.promptId, set);
    }
    // Three tabs of one labeler resume one battle (assignments of one labeler are serialised),
    // so 6 battles over 4 prompts × overlap target 2, none over its target.
    expect(battles).toHaveLength(6);
    for (const set of perPrompt.values()) expect(set.size).toBeLessThanOrEqual(2);
    for (const l of labelers) {
      const mine = results.filter((x) => x.l === l.id).map((x) => (x.r.status === "battle" ? x.r.battle.battleId : x.r.status));
      expect(new Set(mine).size).toBe(1);
    }
  }, 60_000);

  it("keeps each prompt's activeBattles equal to its OPEN and VOTED battles through every change", async () => {
    const { db } = world;
    await db.prompt.updateMany({ data: { enabled: false } });
    await addPrompts(db, ["count me"], 3);
    const [x, y, z] = await Promise.all(["cx", "cy", "cz"].map((n) => addLabeler(db, n)));
    const active = async () =>
      (await db.prompt.findFirstOrThrow({ where: { text: "count me" }, select: { activeBattles: true } })).activeBattles;
    const truth = async () => db.battle.count({ where: { prompt: { text: "count me" }, status: { in: ["OPEN", "VOTED"] } } });
    const bx = battleOf(await nextBattle({ db, labelerId: x!.id }));
    const by = battleOf(await nextBattle({ db, labelerId: y!.id }));
    const bz = battleOf(await nextBattle({ db, labelerId: z!.id }));
    expect(await active()).toBe(3);
    await skipBattle({ db, labelerId: y!.id, battleId: by.battleId }); // OPEN -> SKIPPED
    expect(await active()).toBe(await truth());
    await streamToEnd(world, bz.battleId, z!.id);
    await expireLeases({ db, now: new Date(Date.now() + 24 * 3_600_000) }); // OPEN -> EXPIRED
    expect(await active()).toBe(0);
    await castVote({ db, labelerId: z!.id, battleId: bz.battleId, choice: "A", idempotencyKey: `cz-${bz.battleId}`, msToVote: 5 }); // EXPIRED -> VOTED
    expect(await active()).toBe(1);
    await db.battle.delete({ where: { id: bx.battleId } }); // an EXPIRED battle leaves
    expect(await active()).toBe(await truth());
    expect(await truth()).toBe(1);
  }, 60_000);

  it("serves a prompt with overlap target 2 to two labelers, with the same completions in the same order", async () => {
    const { db } = world;
    // Earlier tests' prompts stay (their battles reference them) but leave the pool.
    await db.prompt.updateMany({ data: { enabled: false } });
    await addPrompts(db, ["shared prompt"], 2);
    const carol = await addLabeler(db, "carol");
    const dave = await addLabeler(db, "dave");
    const erin = await addLabeler(db, "erin");

    const c = battleOf(await nextBattle({ db, labelerId: carol.id }));
    expect(c.promptText).toBe("shared prompt");
    const cEvents = await streamToEnd(world, c.battleId, carol.id);
    expect(cEvents.at(-1)).toEqual({ type: "ready" });
    const d = battleOf(await nextBattle({ db, labelerId: dave.id }));
    expect(d.promptText).toBe("shared prompt");
    expect(d.ready).toBe(true);
    const texts = async (battleId: string) =>
      (await db.completion.findMany({ where: { battleId }, orderBy: { slot: "asc" }, select: { text: true, slot: true } })).map(
        (x) => x.text,
      );
    expect(await texts(d.battleId)).toEqual(await texts(c.battleId));
    expect((await nextBattle({ db, labelerId: erin.id })).status).toBe("empty");

    await castVote({ db, labelerId: carol.id, battleId: c.battleId, choice: "B", idempotencyKey: `carol-${c.battleId}`, msToVote: 1200 });
    await castVote({ db, labelerId: dave.id, battleId: d.battleId, choice: "B", idempotencyKey: `dave-${d.battleId}`, msToVote: 800 });
    const stats = await myStats({ db, labelerId: dave.id });
    expect(stats).toMatchObject({ votesToday: 1, votesTotal: 1, agreement: { rate: 1, compared: 1 } });
  }, 60_000);

  it("returns a battle whose lease expired to the pool, and resumes an open battle on reload", async () => {
    const { db } = world;
    // Earlier tests' prompts stay (their battles reference them) but leave the pool.
    await db.prompt.updateMany({ data: { enabled: false } });
    await addPrompts(db, ["leased prompt"]);
    const frank = await addLabeler(db, "frank");
    const gina = await addLabeler(db, "gina");

    const f = battleOf(await nextBattle({ db, labelerId: frank.id }));
    expect(f.promptText).toBe("leased prompt");
    // A reload (no exclusions) resumes it; asking for another (prefetch) finds nothing new.
    expect(battleOf(await nextBattle({ db, labelerId: frank.id })).battleId).toBe(f.battleId);
    expect((await nextBattle({ db, labelerId: frank.id, excludeBattleIds: [f.battleId] })).status).toBe("empty");
    expect((await nextBattle({ db, labelerId: gina.id })).status).toBe("empty");

    const later = new Date(f.leaseExpiresAt.getTime() + 1000);
    // Open battles of earlier tests expire too.
    expect(await expireLeases({ db, now: later })).toBeGreaterThanOrEqual(1);
    const g = battleOf(await nextBattle({ db, labelerId: gina.id, now: later }));
    expect(g.promptText).toBe("leased prompt");
    expect((await db.battle.findUniqueOrThrow({ where: { id: f.battleId } })).status).toBe("EXPIRED");
  }, 60_000);
});

describe("votes", () => {
  it("refuses a vote before both completions are stored and from another labeler; a replay is not a second vote", async () => {
    const { db } = world;
    // Earlier tests' prompts stay (their battles reference them) but leave the pool.
    await db.prompt.updateMany({ data: { enabled: false } });
    await addPrompts(db, ["vote prompt <script>alert(1)</script>"]);
    const hal = await addLabeler(db, "hal");
    const ivy = await addLabeler(db, "ivy");
    const b = battleOf(await nextBattle({ db, labelerId: hal.id }));

    await expectAppError(
      castVote({ db, labelerId: hal.id, battleId: b.battleId, choice: "A", idempotencyKey: "hal-early-1", msToVote: 5 }),
      "CONFLICT",
      /finish streaming/,
    );
    const events = await streamToEnd(world, b.battleId, hal.id);
    expect(
      events
        .filter((e) => e.type === "done")
        .map((e) => (e as { slot: string }).slot)
        .sort(),
    ).toEqual(["A", "B"]);
    expect(events.some((e) => e.type === "text")).toBe(true);
    await expectAppError(
      castVote({ db, labelerId: ivy.id, battleId: b.battleId, choice: "A", idempotencyKey: "ivy-steal-1", msToVote: 5 }),
      "FORBIDDEN",
    );

    const first = await castVote({
      db,
      labelerId: hal.id,
      battleId: b.battleId,
      choice: "TIE",
      idempotencyKey: "hal-vote-1",
      msToVote: 1500,
    });
    expect(first).toMatchObject({ choice: "TIE", replayed: false, reveal: { A: "v0", B: "v0" } });
    const replay = await castVote({
      db,
      labelerId: hal.id,
      battleId: b.battleId,
      choice: "TIE",
      idempotencyKey: "hal-vote-1",
      msToVote: 1500,
    });
    expect(replay).toMatchObject({ voteId: first.voteId, replayed: true });
    // A second tab with its own key: the first vote stands and is reported back.
    const otherTab = await castVote({
      db,
      labelerId: hal.id,
      battleId: b.battleId,
      choice: "A",
      idempotencyKey: "hal-vote-2",
      msToVote: 10,
    });
    expect(otherTab).toMatchObject({ voteId: first.voteId, choice: "TIE", replayed: true });
    // Concurrent duplicates: still one vote.
    const burst = await Promise.all(
      [1, 2, 3, 4].map((i) =>
        castVote({ db, labelerId: hal.id, battleId: b.battleId, choice: "B", idempotencyKey: `hal-burst-${i}`, msToVote: 1 }),
      ),
    );
    expect(new Set(burst.map((r) => r.voteId))).toEqual(new Set([first.voteId]));
    expect(await db.vote.count({ where: { battleId: b.battleId } })).toBe(1);
    const stored = await db.vote.findUniqueOrThrow({ where: { id: first.voteId } });
    expect(stored).toMatchObject({ msToVote: 1500, choice: "TIE", labelerId: hal.id });
    await expectAppError(skipBattle({ db, labelerId: hal.id, battleId: b.battleId }), "CONFLICT");

    // A key reused for another battle is refused, and that battle stays open.
    await addPrompts(db, ["second vote prompt"]);
    const b2 = battleOf(await nextBattle({ db, labelerId: hal.id, excludeBattleIds: [b.battleId] }));
    await streamToEnd(world, b2.battleId, hal.id);
    await expectAppError(
      castVote({ db, labelerId: hal.id, battleId: b2.battleId, choice: "A", idempotencyKey: "hal-vote-1", msToVote: 5 }),
      "CONFLICT",
      /idempotency key/,
    );
    expect((await db.battle.findUniqueOrThrow({ where: { id: b2.battleId } })).status).toBe("OPEN");
    await skipBattle({ db, labelerId: hal.id, battleId: b2.battleId });
    await expectAppError(
      castVote({ db, labelerId: hal.id, battleId: b2.battleId, choice: "A", idempotencyKey: "hal-after-skip", msToVote: 5 }),
      "CONFLICT",
      /skipped/,
    );
  }, 60_000);

  it("stores the sampling parameters, the recorded order and both versions of each completion", async () => {
    const { db } = world;
    const rows = await db.completion.findMany({ where: { battle: { status: "VOTED" } }, include: { battle: true } });
    expect(rows.length).toBeGreaterThan(0);
    for (const c of rows) {
      expect(c).toMatchObject({ temperature: 1, maxNewTokens: 6, policyVersionId: world.v0.id });
      // the target, then at most the overshoot while looking for a word boundary (stop-rule.ts)
      expect(c.tokenIds.length).toBeLessThanOrEqual(6 + overshootFor("bytes"));
      expect(c.battle!.kind).toBe("ON_POLICY");
    }
    // Left/right draw is random per battle and recorded.
    expect(rows.every((c) => typeof c.battle!.swapped === "boolean")).toBe(true);
  });
});

describe("completion text", () => {
  it("shows and stores a NUL byte from the byte-level model as U+FFFD (PostgreSQL text cannot hold NUL)", () => {
    expect(displayText("a\u0000b\u0000")).toBe("a\uFFFDb\uFFFD");
    expect(displayText("plain <b>text</b>")).toBe("plain <b>text</b>");
  });
});

describe("pair selection", () => {
  it("with on-policy share 0, pairs the serving version with an earlier one in a random, recorded order", async () => {
    const { db } = world;
    await db.prompt.updateMany({ data: { enabled: false } });
    await addPrompts(db, ["versus 1", "versus 2", "versus 3", "versus 4"]);
    // v1 takes over; v0 becomes an earlier (retired) version. The registry's poll picks v1 up.
    await db.policyVersion.update({ where: { id: world.v0.id }, data: { status: "RETIRED" } });
    const v1 = await registerTinyHouse(db, { name: "v1", seed: 11 });
    for (let i = 0; i < 100 && world.sampler.registry.current()?.id !== v1.id; i++) await new Promise((r) => setTimeout(r, 50));
    expect(world.sampler.registry.current()?.id).toBe(v1.id);
    await db.setting.update({ where: { key: "arena" }, data: { value: { onPolicyShare: 0, battleLeaseMinutes: 30, overlapTarget: 1 } } });

    const judge = await addLabeler(db, "judge");
    const slotsOfV1: string[] = [];
    for (let i = 0; i < 4; i++) {
      const b = battleOf(await nextBattle({ db, labelerId: judge.id, random: () => (i % 2 ? 0.9 : 0.1) }));
      await streamToEnd(world, b.battleId, judge.id);
      const battle = await db.battle.findUniqueOrThrow({
        where: { id: b.battleId },
        include: { completions: { include: { policyVersion: true } } },
      });
      expect(battle.kind).toBe("VERSUS");
      const bySlot = Object.fromEntries(battle.completions.map((c) => [c.slot, c.policyVersion?.name]));
      expect(bySlot).toEqual(battle.swapped ? { A: "v0", B: "v1" } : { A: "v1", B: "v0" });
      // Ratings read the battle's policyA/policyB as the versions in slots A/B.
      expect({ A: battle.policyAId, B: battle.policyBId }).toEqual(
        battle.swapped ? { A: world.v0.id, B: v1.id } : { A: v1.id, B: world.v0.id },
      );
      const vote = await castVote({
        db,
        labelerId: judge.id,
        battleId: b.battleId,
        choice: "A",
        idempotencyKey: `judge-${i}-${b.battleId}`,
        msToVote: 700,
      });
      expect(vote.reveal).toEqual(bySlot);
      slotsOfV1.push(bySlot.A === "v1" ? "A" : "B");
    }
    // The injected draws alternate, so the serving version appears on both sides.
    expect(new Set(slotsOfV1)).toEqual(new Set(["A", "B"]));
  }, 60_000);
});
