// The leaderboard's version list and next-round progress: every version with its status and
// battle counts (v0 alone on a fresh install), and the schedule's threshold.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { versionOverview } from "../../src/server/services/leaderboard/versions.ts";
import { countPairs } from "../../src/server/services/rounds/pairs.ts";
import { loopSettingsSchema } from "../../src/server/services/rounds/settings.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { addVersions, addVotedBattle } from "./fixtures.ts";

let t: TestDatabase;
let labelerId: string;

beforeAll(async () => {
  t = await createTestDatabase();
  labelerId = (await t.db.user.create({ data: { username: "lab", passwordHash: "x" } })).id;
});
afterAll(() => t?.drop());

describe("version overview", () => {
  it("lists v0 with its self-battles on a fresh install and counts votes toward the next round", async () => {
    const versions = await addVersions(t.db, ["v0"]);
    for (const choice of ["A", "B", "TIE"] as const) await addVotedBattle(t.db, { versions, a: "v0", b: "v0", choice, labelerId });
    const o = await versionOverview({ db: t.db });
    expect(o.versions).toMatchObject([{ name: "v0", status: "SERVING", rated: 0, self: 3 }]);
    // two decisive on-policy votes; no loop rows stored: the schedule's defaults apply
    expect(o.nextRound).toEqual({ votes: 2, threshold: loopSettingsSchema.parse({}).schedule.minNewPairs });
  });

  it("counts rated battles on both sides, and says when automatic rounds are off", async () => {
    await t.db.policyVersion.updateMany({ where: { name: "v0" }, data: { status: "RETIRED" } });
    const more = await addVersions(t.db, ["v1", "v2"]); // v2 SERVING now, v1 RETIRED
    const versions: Record<string, number> = { ...more, v0: (await t.db.policyVersion.findUniqueOrThrow({ where: { name: "v0" } })).id };
    // one lineage v0 → v1 → v2: only votes of the serving version's lineage can become pairs
    await t.db.policyVersion.update({ where: { id: versions.v1 }, data: { parentId: versions.v0 } });
    await t.db.policyVersion.update({ where: { id: versions.v2 }, data: { parentId: versions.v1 } });
    await addVotedBattle(t.db, { versions, a: "v2", b: "v0", choice: "A", labelerId });
    await addVotedBattle(t.db, { versions, a: "v0", b: "v2", choice: "B", labelerId });
    await t.db.setting.create({ data: { key: "schedule", value: { autoTrain: false, minNewPairs: 50, checkIntervalSeconds: 60 } } });
    const o = await versionOverview({ db: t.db });
    expect(o.versions.map((v) => [v.name, v.status, v.rated, v.self])).toEqual([
      ["v0", "RETIRED", 2, 3],
      ["v1", "RETIRED", 0, 0],
      ["v2", "SERVING", 2, 0],
    ]);
    // the progress line counts exactly what the schedule waits for: new train-side pairs (v0's two
    // decisive self-battles and the two serving-vs-earlier votes, less any whose prompt is held out)
    const { fresh, heldout } = await countPairs(t.db, { versus: true, heldoutFraction: 0.2 });
    expect(fresh + heldout).toBe(4);
    expect(o.nextRound).toEqual({ votes: fresh, threshold: null });
  });
});
