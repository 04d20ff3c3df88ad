// Database-level guarantees of the loop, on a real Postgres: exactly one SERVING version,
// promotion and rollback, one active round at a time, lease expiry, settings validation.

import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cancelRound, claimRound, reapExpiredRounds, renewLease, triggerRound } from "../../src/server/services/rounds/lifecycle.ts";
import { getLoopSettings, updateLoopSettings } from "../../src/server/services/rounds/settings.ts";
import { nextVersionName } from "../../src/server/services/versions/list.ts";
import { promoteVersion, rollbackVersion, SERVING_CHANNEL } from "../../src/server/services/versions/promote.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

let t: TestDatabase;

async function version(name: string, status: "SERVING" | "CANDIDATE" | "REJECTED" | "RETIRED") {
  return t.db.policyVersion.create({
    data: {
      name,
      status,
      checkpointUri: `file:/nonexistent/${name}`,
      checkpointSha256: "0".repeat(64),
      promotedAt: status === "SERVING" ? new Date() : null,
    },
  });
}

beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t?.drop();
});

describe("policy versions", () => {
  it("promotes in one transaction, notifies listeners, and rolls back to the previous version", async () => {
    const v0 = await version("v0", "SERVING");
    const v1 = await version("v1", "CANDIDATE");
    expect(await nextVersionName({ db: t.db })).toBe("v2");

    const listener = new pg.Client({ connectionString: t.url });
    await listener.connect();
    const heard: string[] = [];
    listener.on("notification", (n) => heard.push(n.payload ?? ""));
    await listener.query(`LISTEN ${SERVING_CHANNEL}`);

    const res = await promoteVersion({ db: t.db, versionId: v1.id });
    expect(res).toMatchObject({ versionId: v1.id, previousId: v0.id, changed: true });
    const serving = await t.db.policyVersion.findMany({ where: { status: "SERVING" } });
    expect(serving.map((v) => v.name)).toEqual(["v1"]);
    await new Promise((r) => setTimeout(r, 200));
    expect(heard).toContain(String(v1.id));

    const back = await rollbackVersion({ db: t.db });
    expect(back).toMatchObject({ versionId: v0.id, previousId: v1.id });
    expect((await t.db.policyVersion.findUnique({ where: { id: v1.id } }))?.status).toBe("RETIRED");
    await listener.end();
  });

  it("the database refuses a second SERVING version even outside the service", async () => {
    await expect(version("v9", "SERVING")).rejects.toThrow();
  });

  it("refuses rejected versions, and a failed verification changes nothing", async () => {
    const bad = await version("v2", "REJECTED");
    await expect(promoteVersion({ db: t.db, versionId: bad.id })).rejects.toThrow(/rejected/);
    const cand = await version("v3", "CANDIDATE");
    const before = await t.db.policyVersion.findFirst({ where: { status: "SERVING" } });
    await expect(
      promoteVersion({
        db: t.db,
        versionId: cand.id,
        verify: async () => {
          throw new Error("checkpoint of v3 is corrupt");
        },
      }),
    ).rejects.toThrow(/corrupt/);
    expect((await t.db.policyVersion.findFirst({ where: { status: "SERVING" } }))?.id).toBe(before?.id);
  });

  it("concurrent promotions leave exactly one SERVING version", async () => {
    const a = await version("v4", "CANDIDATE");
    const b = await version("v5", "CANDIDATE");
    await Promise.all([promoteVersion({ db: t.db, versionId: a.id }), promoteVersion({ db: t.db, versionId: b.id })]);
    expect(await t.db.policyVersion.count({ where: { status: "SERVING" } })).toBe(1);
  });
});

describe("rounds", () => {
  it("an unconfirmed trigger below the minimums is refused with what is missing; nothing is queued", async () => {
    const err = await triggerRound({ db: t.db, triggeredBy: "admin" }).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(
      /^Not ready for a round: 0 of 1,000 new votes a round waits for; 0 of the 200 held-out votes the gates need/,
    );
    expect(await t.db.trainingRound.count()).toBe(0);
  });

  it("concurrent triggers create one round; only one trainer claims it", async () => {
    const results = await Promise.all(Array.from({ length: 5 }, () => triggerRound({ db: t.db, triggeredBy: "admin", force: true })));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.round.id)).size).toBe(1);
    const roundId = results[0]!.round.id;
    const claims = await Promise.all(["w1", "w2", "w3"].map((workerId) => claimRound({ db: t.db, roundId, workerId, leaseSeconds: 30 })));
    expect(claims.filter(Boolean)).toHaveLength(1);

    await cancelRound({ db: t.db, roundId });
    expect(await renewLease({ db: t.db, roundId, workerId: "w1", leaseSeconds: 30 })).toBe(false);
    await expect(cancelRound({ db: t.db, roundId })).rejects.toThrow(/already CANCELLED/);
  });

  it("an expired lease marks the round FAILED and frees the slot", async () => {
    const { round } = await triggerRound({ db: t.db, triggeredBy: "schedule", force: true });
    expect(await claimRound({ db: t.db, roundId: round.id, workerId: "dead", leaseSeconds: 0.05 })).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    expect(await reapExpiredRounds({ db: t.db })).toEqual([round.id]);
    const failed = await t.db.trainingRound.findUnique({ where: { id: round.id } });
    expect(failed?.status).toBe("FAILED");
    expect(failed?.error).toMatch(/lease/);
    expect((await triggerRound({ db: t.db, triggeredBy: "admin", force: true })).created).toBe(true);
  });
});

describe("loop settings", () => {
  it("validates hyperparameters and keeps unrelated values", async () => {
    expect((await getLoopSettings({ db: t.db })).dpo.beta).toBe(0.1);
    await expect(updateLoopSettings({ db: t.db, patch: { dpo: { beta: 0 } } })).rejects.toThrow(/β must be > 0/);
    await expect(updateLoopSettings({ db: t.db, patch: { dpo: { lr: 0.5 } } })).rejects.toThrow(/lr must be ≤ 1e-2/);
    // the old names are gone (migration 20261203110000_loop_guard rewrote stored rows)
    await expect(updateLoopSettings({ db: t.db, patch: { dpo: { learningRate: 1e-4 } as never } })).rejects.toThrow(/learningRate/);
    await expect(updateLoopSettings({ db: t.db, patch: { dpo: { betta: 1 } as never } })).rejects.toThrow();
    // the seed's rows (written before this code) are read and kept
    await t.db.setting.create({ data: { key: "schedule", value: { autoTrain: true, minNewPairs: 32, checkIntervalSeconds: 60 } } });
    const next = await updateLoopSettings({
      db: t.db,
      patch: { schedule: { minNewPairs: 10 }, dpo: { beta: 0.3 }, gates: { klBudget: null } },
    });
    expect(next.schedule).toMatchObject({ minNewPairs: 10, checkIntervalSeconds: 60 });
    expect(next.dpo).toMatchObject({ beta: 0.3, lossType: "sigmoid" });
    const stored = await getLoopSettings({ db: t.db });
    expect(stored.dpo.beta).toBe(0.3);
    // A patch of one field leaves the others as they were (it used to reset them to defaults).
    await updateLoopSettings({ db: t.db, patch: { dpo: { lr: 1e-3, epochs: 5 } } });
    const after = await updateLoopSettings({ db: t.db, patch: { dpo: { beta: 0.4 } } });
    expect(after.dpo).toMatchObject({ beta: 0.4, lr: 1e-3, epochs: 5 });
    expect(stored.gates.klBudget).toBeNull();
  });
});
