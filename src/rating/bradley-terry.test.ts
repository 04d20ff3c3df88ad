import { describe, expect, it } from "vitest";
import { dedupBattles, fitBradleyTerry } from "./index.ts";
import { repeat, shuffled, synthetic } from "./test-helpers.ts";
import type { BattleRecord } from "./types.ts";

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

describe("fitBradleyTerry", () => {
  it("gives the closed-form difference 400·log10(w/l) for two models, centred on 1000", () => {
    const battles = [...repeat(30, "a", "b", "model_a"), ...repeat(10, "a", "b", "model_b")];
    const fit = fitBradleyTerry(battles);
    expect(fit.converged).toBe(true);
    expect(fit.gradNorm).toBeLessThan(1e-6);
    expect(fit.ratings.a - fit.ratings.b).toBeCloseTo(400 * Math.log10(3), 4);
    expect(mean(Object.values(fit.ratings))).toBeCloseTo(1000, 9);
  });

  it("counts a tie (and both-bad) as half a win for each side", () => {
    const battles = [
      ...repeat(12, "a", "b", "model_a"),
      ...repeat(4, "b", "a", "model_a"),
      ...repeat(6, "a", "b", "tie"),
      ...repeat(2, "b", "a", "tie (bothbad)"),
    ];
    const fit = fitBradleyTerry(battles);
    // a: 12 wins + 4 half; b: 4 wins + 4 half.
    expect(fit.ratings.a - fit.ratings.b).toBeCloseTo(400 * Math.log10(16 / 8), 4);
  });

  it("is the maximum of the likelihood on a three-model cycle-free example (first-order conditions)", () => {
    const battles = synthetic({ x: 1100, y: 1000, z: 900 }, 3000, 4, 0.2);
    const fit = fitBradleyTerry(battles);
    // At the MLE each model's expected score equals its actual score.
    for (const m of ["x", "y", "z"]) {
      let actual = 0,
        expected = 0;
      for (const b of battles) {
        if (b.modelA !== m && b.modelB !== m) continue;
        const other = b.modelA === m ? b.modelB : b.modelA;
        expected += 1 / (1 + 10 ** ((fit.ratings[other] - fit.ratings[m]) / 400));
        actual += b.winner.startsWith("tie") ? 0.5 : (b.winner === "model_a") === (b.modelA === m) ? 1 : 0;
      }
      expect(expected).toBeCloseTo(actual, 3);
    }
  });

  it("is invariant to relabeling models, swapping sides, reordering and duplicating battles", () => {
    const battles = synthetic({ p: 1150, q: 1050, r: 1000, s: 980, t: 850 }, 4000, 9, 0.15);
    const base = fitBradleyTerry(battles).ratings;
    const rename = (m: string) => `model-${m.toUpperCase()}`;
    const swap: Record<string, BattleRecord["winner"]> = {
      model_a: "model_b",
      model_b: "model_a",
      tie: "tie",
      "tie (bothbad)": "tie (bothbad)",
    };
    const relabeled = shuffled(battles, 1).map((b) => ({ modelA: rename(b.modelB), modelB: rename(b.modelA), winner: swap[b.winner] }));
    const other = fitBradleyTerry([...relabeled, ...relabeled]).ratings;
    for (const m of Object.keys(base)) expect(other[rename(m)]).toBeCloseTo(base[m], 6);
  });

  it("ignores self-battles and counts them separately", () => {
    const battles = [...repeat(7, "a", "b", "model_a"), ...repeat(3, "a", "b", "model_b")];
    const withSelf = [...battles, ...repeat(50, "a", "a", "model_a"), ...repeat(5, "c", "c", "tie")];
    const cells = dedupBattles(withSelf);
    expect(cells.selfBattles).toBe(55);
    expect(cells.total).toBe(10);
    expect(cells.models).toEqual(["a", "b"]);
    expect(fitBradleyTerry(cells).ratings).toEqual(fitBradleyTerry(battles).ratings);
  });

  it("shifts every rating so the anchor model has the given rating", () => {
    const battles = synthetic({ a: 1200, b: 1000, c: 900 }, 2000, 2);
    const free = fitBradleyTerry(battles).ratings;
    const anchored = fitBradleyTerry(battles, { anchor: { model: "b", rating: 1114 } }).ratings;
    expect(anchored.b).toBeCloseTo(1114, 9);
    for (const m of ["a", "c"]) expect(anchored[m] - anchored.b).toBeCloseTo(free[m] - free.b, 9);
    expect(() => fitBradleyTerry(battles, { anchor: { model: "nope", rating: 1 } })).toThrow(/anchor model "nope"/);
  });

  it("reports non-convergence when a model won everything, and l2 makes it finite", () => {
    const battles = [...repeat(5, "a", "b", "model_a"), ...repeat(3, "b", "c", "model_a"), ...repeat(2, "c", "b", "model_a")];
    const mle = fitBradleyTerry(battles, { maxIterations: 50 });
    expect(mle.converged).toBe(false);
    expect(Number.isFinite(mle.ratings.a)).toBe(true);
    const ridge = fitBradleyTerry(battles, { l2: 1e-3 });
    expect(ridge.converged).toBe(true);
    expect(ridge.ratings.a).toBeGreaterThan(ridge.ratings.b);
    expect(ridge.ratings.a).toBeLessThan(mle.ratings.a);
  });

  it("fits disconnected groups without failing, each group's internal differences intact", () => {
    const battles = [
      ...repeat(9, "a", "b", "model_a"),
      ...repeat(3, "b", "a", "model_a"),
      ...repeat(4, "c", "d", "model_a"),
      ...repeat(4, "d", "c", "model_a"),
    ];
    const fit = fitBradleyTerry(battles);
    expect(fit.converged).toBe(true);
    expect(fit.ratings.a - fit.ratings.b).toBeCloseTo(400 * Math.log10(3), 4);
    expect(fit.ratings.c - fit.ratings.d).toBeCloseTo(0, 4);
  });

  it("deduplicates into the same cells beyond the dense-table limit (1100 models)", () => {
    const names = Array.from({ length: 1100 }, (_, k) => `m${String(k).padStart(4, "0")}`);
    const battles: BattleRecord[] = [];
    for (let k = 0; k + 1 < names.length; k++) {
      battles.push(
        { modelA: names[k + 1], modelB: names[k], winner: "model_b" },
        { modelA: names[k], modelB: names[k + 1], winner: "tie" },
      );
    }
    const cells = dedupBattles(battles);
    expect(cells.models).toEqual(names);
    expect(cells.pairI.length).toBe(1099);
    expect(cells.total).toBe(2198);
    for (let q = 0; q < 1099; q++) {
      expect([cells.pairI[q], cells.pairJ[q]]).toEqual([q, q + 1]);
      expect(Array.from(cells.counts.subarray(3 * q, 3 * q + 3))).toEqual([1, 0, 1]);
    }
  });

  it("rejects unknown winners naming the battle", () => {
    expect(() => fitBradleyTerry([{ modelA: "a", modelB: "b", winner: "draw" as never }])).toThrow(/battle 0: winner must be one of/);
  });
});
