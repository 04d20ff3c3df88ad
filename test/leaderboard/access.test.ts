// Who may see the leaderboard (the admin's visibility setting, through the real tRPC handler)
// and the admin-only exports: access, and the exact clean_battle / TRL line formats.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { leaderboard, parseCleanBattles } from "../../src/rating/index.ts";
import { streamCleanBattles } from "../../src/server/services/export/battles.ts";
import { createExportHandler } from "../../src/server/services/export/handler.ts";
import { streamTrlPairs } from "../../src/server/services/export/trl.ts";
import { refreshLeaderboard } from "../../src/server/services/leaderboard/cache.ts";
import { BOOTSTRAP_ROUNDS, BOOTSTRAP_SEED } from "../../src/server/services/leaderboard/snapshot.ts";
import { createUser, errorOf, httpClient } from "../api/fixtures.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { addVersions, addVotedBattle, type SeededVote } from "./fixtures.ts";

let t: TestDatabase;
let admin: { cookie: string };
let labeler: { cookie: string; user: { id: string } };
const seeded: { vote: SeededVote; a: string; b: string; choice: "A" | "B" | "TIE" | "BOTH_BAD" }[] = [];

beforeAll(async () => {
  t = await createTestDatabase();
  admin = await createUser(t.db, { role: "ADMIN" });
  labeler = await createUser(t.db, { role: "LABELER" });
  const versions = await addVersions(t.db, ["v0", "v1", "v2"]);
  const plan: [string, string, "A" | "B" | "TIE" | "BOTH_BAD"][] = [
    ["v1", "v0", "A"],
    ["v0", "v1", "B"],
    ["v0", "v2", "A"],
    ["v2", "v1", "TIE"],
    ["v2", "v0", "BOTH_BAD"],
    ["v1", "v1", "B"],
    ["v1", "v2", "B"],
  ];
  let at = Date.UTC(2026, 1, 1);
  for (const [a, b, choice] of plan) {
    const vote = await addVotedBattle(t.db, { versions, a, b, choice, labelerId: labeler.user.id, at: new Date((at += 1500)) });
    seeded.push({ vote, a, b, choice });
  }
});
afterAll(() => t?.drop());

async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  return new Response(stream).text();
}

describe("leaderboard visibility", () => {
  it("refuses anonymous viewers by default and serves signed-in labelers", async () => {
    const client = httpClient(t.db);
    const anon = await client.query("leaderboard.get", undefined);
    expect(anon.status).toBe(401);
    expect(errorOf(anon).message).toMatch(/Sign in to see the leaderboard/);
    const asLabeler = await client.query("leaderboard.get", undefined, { cookie: labeler.cookie });
    expect(asLabeler.status).toBe(200);
    const data = (
      asLabeler.body as { result: { data: { json: { visibility: string; snapshot: { board: { rows: { model: string }[] } } } } } }
    ).result.data.json;
    expect(data.visibility).toBe("labelers");
    expect(data.snapshot.board.rows.map((r) => r.model).sort()).toEqual(["v0", "v1", "v2"]);
  });

  it("only an admin changes it; once public, anonymous viewers get the board", async () => {
    const client = httpClient(t.db);
    expect((await client.mutate("leaderboard.setVisibility", { visibility: "public" }, { cookie: labeler.cookie })).status).toBe(403);
    const bad = await client.mutate("leaderboard.setVisibility", { visibility: "everyone" }, { cookie: admin.cookie });
    expect(bad.status).toBe(400);
    expect(errorOf(bad).zodError).toMatchObject({ fieldErrors: { visibility: expect.any(Array) } });
    expect((await client.mutate("leaderboard.setVisibility", { visibility: "public" }, { cookie: admin.cookie })).status).toBe(200);
    expect((await client.query("leaderboard.get", undefined)).status).toBe(200);
    expect((await client.mutate("leaderboard.setVisibility", { visibility: "labelers" }, { cookie: admin.cookie })).status).toBe(200);
    expect((await client.query("leaderboard.get", undefined)).status).toBe(401);
  });
});

describe("exports", () => {
  const get = (kind: "battles" | "trl", cookie?: string) =>
    createExportHandler({ kind, db: t.db })(new Request(`http://arena.test/api/export/${kind}`, { headers: cookie ? { cookie } : {} }));

  it.each(["battles", "trl"] as const)("%s: anonymous gets 401, a labeler 403, an admin the file", async (kind) => {
    const anon = await get(kind);
    expect(anon.status).toBe(401);
    expect(((await anon.json()) as { error: { message: string } }).error.message).toMatch(/sign in as an admin/i);
    const lab = await get(kind, labeler.cookie);
    expect(lab.status).toBe(403);
    expect(await lab.text()).not.toMatch(/model_a|chosen/);
    const ok = await get(kind, admin.cookie);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toMatch(/ndjson/);
    expect(ok.headers.get("content-disposition")).toMatch(/attachment; filename=".+\.jsonl"/);
    expect((await ok.text()).trim().split("\n").length).toBeGreaterThan(0);
  });

  it("battles: one clean_battle line per vote, in vote order, that the rating library reads back to the same ratings", async () => {
    const text = await (await get("battles", admin.cookie)).text();
    const lines = text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const winner = { A: "model_a", B: "model_b", TIE: "tie", BOTH_BAD: "tie (bothbad)" };
    expect(lines).toEqual(
      seeded.map((s) => ({
        question_id: s.vote.battleId,
        model_a: s.a,
        model_b: s.b,
        winner: winner[s.choice],
        judge: `arena_user_${labeler.user.id}`,
        turn: 1,
        anony: true,
        tstamp: expect.any(Number),
        battle_kind: s.a === s.b ? "ON_POLICY" : "VERSUS",
      })),
    );
    const stamps = lines.map((l) => l.tstamp as number);
    expect(stamps).toEqual([...stamps].sort((x, y) => x - y));
    const fromFile = leaderboard(parseCleanBattles(text), { rounds: BOOTSTRAP_ROUNDS, seed: BOOTSTRAP_SEED, l2: 1e-3 });
    const snapshot = await refreshLeaderboard({ db: t.db });
    expect(fromFile.selfBattles).toBe(1);
    expect(fromFile.rows.map((r) => [r.model, r.battles, r.wins])).toEqual(snapshot.board.rows.map((r) => [r.model, r.battles, r.wins]));
  });

  it("trl: decisive votes only, chosen is the completion the labeler picked, across pages", async () => {
    const lines = (await readAll(streamTrlPairs({ db: t.db, batchSize: 2 })))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const decisive = seeded.filter((s) => s.choice === "A" || s.choice === "B");
    expect(lines).toEqual(
      decisive.map((s) => ({
        prompt: s.vote.prompt,
        chosen: s.choice === "A" ? s.vote.textA : s.vote.textB,
        rejected: s.choice === "A" ? s.vote.textB : s.vote.textA,
      })),
    );
    // Paging gives the same file as one page.
    const paged = await readAll(streamCleanBattles({ db: t.db, batchSize: 3 }));
    const whole = await readAll(streamCleanBattles({ db: t.db, batchSize: 1000 }));
    expect(paged).toBe(whole);
    expect(whole.trim().split("\n")).toHaveLength(seeded.length);
  });
});
