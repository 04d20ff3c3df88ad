import { describe, expect, it } from "vitest";
import { fitBradleyTerry, onlineElo, ratingHistory } from "./index.ts";
import { repeat, shuffled, synthetic } from "./test-helpers.ts";

describe("ratingHistory", () => {
  // v0 plays alone with v1 first; v2 arrives in the second half of the stream.
  const early = synthetic({ v0: 1000, v1: 1080 }, 600, 41, 0.1);
  const late = synthetic({ v0: 1000, v1: 1080, v2: 1200 }, 600, 42, 0.1).map((b, k) => ({ ...b, tstamp: 1000 + k }));
  const battles = [...early, ...late, ...repeat(5, "v2", "v2", "model_a").map((b) => ({ ...b, tstamp: 5000 }))];

  it("ends at the full-data Bradley–Terry fit and the online Elo", () => {
    const h = ratingHistory(shuffled(battles, 1), { points: 6 });
    const bt = fitBradleyTerry(battles).ratings;
    const elo = onlineElo(battles);
    expect(h.points).toHaveLength(6);
    expect(h.points.at(-1)).toEqual({ battles: 1200, tstamp: 1599 });
    for (const m of ["v0", "v1", "v2"]) {
      expect(h.bt[m].at(-1)).toBeCloseTo(bt[m], 6);
      expect(h.elo[m].at(-1)).toBeCloseTo(elo[m], 9);
    }
  });

  it("matches a fit on each prefix and shows models only after their first battle", () => {
    const h = ratingHistory(battles, { points: 4 });
    expect(h.points.map((p) => p.battles)).toEqual([300, 600, 900, 1200]);
    expect(h.bt.v2.slice(0, 2)).toEqual([null, null]);
    expect(h.elo.v2[2]).not.toBeNull();
    const prefix = fitBradleyTerry(battles.slice(0, 300)).ratings;
    expect(h.bt.v0[0]).toBeCloseTo(prefix.v0, 6);
    expect(h.bt.v1[0]).toBeCloseTo(prefix.v1, 6);
    // Centred over the models seen so far.
    expect((h.bt.v0[0]! + h.bt.v1[0]!) / 2).toBeCloseTo(1000, 6);
  });

  it("anchors snapshots in which the anchor has played", () => {
    const h = ratingHistory(battles, { points: 4, anchor: { model: "v0", rating: 1114 } });
    for (const r of h.bt.v0) expect(r).toBeCloseTo(1114, 9);
  });
});
