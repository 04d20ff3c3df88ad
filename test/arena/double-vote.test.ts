// Issue 16 item 5: one judgement per labeler per prompt. A battle whose lease expired does not
// come back to the same labeler; a vote on it is accepted once (the labeler did the work, and
// nobody else's vote is affected); the database refuses a second vote by the same labeler on
// the same prompt whatever code path writes it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "../../src/server/errors.ts";
import { expireLeases, type NextBattleResult, nextBattle } from "../../src/server/services/battles/assign.ts";
import { castVote } from "../../src/server/services/battles/vote.ts";
import { type ArenaWorld, addLabeler, addPrompts, createArenaWorld, streamToEnd } from "./helpers.ts";

let world: ArenaWorld;
beforeAll(async () => {
  world = await createArenaWorld();
}, 60_000);
afterAll(async () => {
  await world?.close();
});

function battleOf(r: NextBattleResult) {
  if (r.status !== "battle") throw new Error(`expected a battle, got ${r.status}`);
  return r.battle;
}

/** A second battle on the same prompt for the same labeler, as the old assignment made it. */
async function duplicateBattle(battleId: string) {
  const { db } = world;
  const src = await db.battle.findUniqueOrThrow({ where: { id: battleId }, include: { completions: true } });
  const copy = await db.battle.create({
    data: {
      promptId: src.promptId,
      labelerId: src.labelerId,
      kind: src.kind,
      policyAId: src.policyAId,
      policyBId: src.policyBId,
      swapped: src.swapped,
      leaseExpiresAt: new Date(Date.now() + 600_000),
    },
  });
  await db.completion.createMany({
    data: src.completions.map(({ id: _i, battleId: _b, createdAt: _c, ...c }) => ({ ...c, battleId: copy.id })),
  });
  return copy.id;
}

describe("one judgement per labeler per prompt", () => {
  it("does not serve an expired battle's prompt to the same labeler again, and accepts its late vote once", async () => {
    const { db } = world;
    await addPrompts(db, ["expiring prompt"], 2);
    const kim = await addLabeler(db, "kim");
    const first = battleOf(await nextBattle({ db, labelerId: kim.id }));
    await streamToEnd(world, first.battleId, kim.id);
    const later = new Date(first.leaseExpiresAt.getTime() + 1000);
    await expireLeases({ db, now: later });
    // The prompt went back to the pool for others, not for kim.
    expect((await nextBattle({ db, labelerId: kim.id, now: later })).status).toBe("empty");
    const lee = await addLabeler(db, "lee");
    expect(battleOf(await nextBattle({ db, labelerId: lee.id, now: later })).promptText).toBe("expiring prompt");

    const late = await castVote({
      db,
      labelerId: kim.id,
      battleId: first.battleId,
      choice: "A",
      idempotencyKey: "kim-late-1",
      msToVote: 90_000,
    });
    expect(late.replayed).toBe(false);
    expect(await db.vote.count({ where: { labelerId: kim.id } })).toBe(1);
  }, 60_000);

  it("refuses a second vote by the same labeler on the same prompt, in the database and with a clear message", async () => {
    const { db } = world;
    await db.prompt.updateMany({ data: { enabled: false } });
    await addPrompts(db, ["judged once"], 3);
    const max = await addLabeler(db, "max");
    const b = battleOf(await nextBattle({ db, labelerId: max.id }));
    await streamToEnd(world, b.battleId, max.id);
    const second = await duplicateBattle(b.battleId);
    await castVote({ db, labelerId: max.id, battleId: b.battleId, choice: "B", idempotencyKey: "max-vote-1", msToVote: 10 });

    const err = await castVote({ db, labelerId: max.id, battleId: second, choice: "A", idempotencyKey: "max-vote-2", msToVote: 10 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe("CONFLICT");
    expect((err as AppError).userMessage).toMatch(/already judged this prompt/);
    expect((await db.battle.findUniqueOrThrow({ where: { id: second } })).status).toBe("OPEN");

    // Any writer, not only castVote: the database itself refuses it.
    await db.battle.update({ where: { id: second }, data: { status: "VOTED" } });
    await expect(
      db.vote.create({ data: { battleId: second, labelerId: max.id, choice: "A", msToVote: 1, idempotencyKey: "max-direct-1" } }),
    ).rejects.toThrow(/Unique constraint/i);
    expect(await db.vote.count({ where: { labelerId: max.id } })).toBe(1);
  }, 60_000);
});
