import { describe, expect, it } from "vitest";
import { dedupBattles, fitBradleyTerry, leaderboard, onlineElo, pairwiseMatrices } from "./index.ts";
import { repeat, synthetic } from "./test-helpers.ts";

describe("pairwiseMatrices", () => {
  it("gives win fractions without ties and battle counts with them", () => {
    const cells = dedupBattles([
      ...repeat(3, "a", "b", "model_a"),
      ...repeat(1, "b", "a", "model_a"),
      ...repeat(4, "a", "b", "tie"),
      ...repeat(2, "c", "a", "tie (bothbad)"),
    ]);
    const { models, winFraction, battleCounts } = pairwiseMatrices(cells, ["c", "b", "a"]);
    expect(models).toEqual(["c", "b", "a"]);
    expect(winFraction[2][1]).toBeCloseTo(0.75, 12); // a vs b: 3 of 4 decisive
    expect(winFraction[1][2]).toBeCloseTo(0.25, 12);
    expect(winFraction[0][2]).toBeNull(); // c vs a: only ties
    expect(winFraction[0][0]).toBeNull();
    expect(battleCounts).toEqual([
      [0, 0, 2],
      [0, 0, 8],
      [2, 8, 0],
    ]);
  });
});

describe("leaderboard", () => {
  const battles = [...synthetic({ strong: 1250, mid: 1000, weak: 800, twin: 1000 }, 6000, 31, 0.1), ...repeat(40, "mid", "mid", "model_a")];
  const board = leaderboard(battles, { rounds: 50, seed: 4 });

  it("sorts rows by Bradley–Terry rating and agrees with the separate functions", () => {
    const bt = fitBradleyTerry(battles).ratings;
    const elo = onlineElo(battles);
    expect(board.rows.map((r) => r.model)[0]).toBe("strong");
    expect(board.rows.map((r) => r.model).at(-1)).toBe("weak");
    for (const row of board.rows) {
      expect(row.rating).toBeCloseTo(bt[row.model], 9);
      expect(row.elo).toBeCloseTo(elo[row.model], 9);
      expect(row.ci[0]).toBeLessThanOrEqual(row.rating);
      expect(row.ci[1]).toBeGreaterThanOrEqual(row.rating);
    }
    for (let k = 1; k < board.rows.length; k++) expect(board.rows[k - 1].rating).toBeGreaterThanOrEqual(board.rows[k].rating);
  });

  it("ranks models with overlapping intervals equally", () => {
    const rank = Object.fromEntries(board.rows.map((r) => [r.model, r.rank]));
    expect(rank.strong).toBe(1);
    expect(rank.mid).toBe(rank.twin);
    expect(rank.mid).toBe(2);
    expect(rank.weak).toBe(4);
  });

  it("counts per-model battles including ties and excludes self-battles", () => {
    expect(board.selfBattles).toBe(40);
    expect(board.totalBattles).toBe(6000);
    const sum = board.rows.reduce((s, r) => s + r.battles, 0);
    expect(sum).toBe(2 * 6000);
    for (const r of board.rows) expect(r.wins + r.losses + r.ties).toBe(r.battles);
    // Matrices follow row order and sum to the same battles.
    const i = board.rows.findIndex((r) => r.model === "strong");
    expect(board.battleCounts[i].reduce((s, x) => s + x, 0)).toBe(board.rows[i].battles);
  });

  it("is plain JSON, so it can be cached and served as is", () => {
    expect(JSON.parse(JSON.stringify(board))).toEqual(board);
  });
});
