import { describe, expect, it } from "vitest";
import { onlineElo } from "./index.ts";
import { repeat } from "./test-helpers.ts";

describe("onlineElo", () => {
  it("matches a hand computation with K=4, base 10, scale 400, init 1000", () => {
    const ratings = onlineElo([
      { modelA: "a", modelB: "b", winner: "model_a" },
      { modelA: "b", modelB: "c", winner: "tie" },
      { modelA: "c", modelB: "a", winner: "model_a" },
    ]);
    // 1) a beats b at equal ratings: expected 0.5, a = 1000 + 4·0.5 = 1002, b = 998.
    // 2) b (998) ties c (1000): e_b = 1/(1+10^(2/400)), b += 4·(0.5 − e_b), c gets the mirror.
    const eb = 1 / (1 + 10 ** (2 / 400));
    const b = 998 + 4 * (0.5 - eb);
    const c1 = 1000 + 4 * (0.5 - (1 - eb));
    // 3) c beats a (1002): e_c = 1/(1+10^((1002 − c1)/400)).
    const ec = 1 / (1 + 10 ** ((1002 - c1) / 400));
    expect(ratings.b).toBeCloseTo(b, 12);
    expect(ratings.c).toBeCloseTo(c1 + 4 * (1 - ec), 12);
    expect(ratings.a).toBeCloseTo(1002 - 4 * (1 - ec), 12);
    // Hand values for the record: b ≈ 998.0115, a ≈ 999.9885 after step 3.
    expect(ratings.b).toBeCloseTo(998.0115, 3);
  });

  it("replays battles in tstamp order (stable for equal stamps)", () => {
    const inOrder = onlineElo([
      { modelA: "a", modelB: "b", winner: "model_a", tstamp: 1 },
      { modelA: "a", modelB: "b", winner: "model_b", tstamp: 2 },
      { modelA: "a", modelB: "c", winner: "model_a", tstamp: 2 },
    ]);
    const scrambled = onlineElo([
      { modelA: "a", modelB: "b", winner: "model_b", tstamp: 2 },
      { modelA: "a", modelB: "c", winner: "model_a", tstamp: 2 },
      { modelA: "a", modelB: "b", winner: "model_a", tstamp: 1 },
    ]);
    expect(scrambled).toEqual(inOrder);
    // Order matters for Elo: a loss after a win leaves a below 1000 + 0 (the loss is dearer).
    expect(inOrder.b).toBeGreaterThan(1000);
  });

  it("treats both-bad like a tie and skips self-battles", () => {
    const tie = onlineElo([...repeat(3, "a", "b", "model_a"), { modelA: "a", modelB: "b", winner: "tie" }]);
    const bothBad = onlineElo([
      ...repeat(3, "a", "b", "model_a"),
      { modelA: "a", modelB: "b", winner: "tie (bothbad)" },
      ...repeat(4, "a", "a", "model_a"),
    ]);
    expect(bothBad).toEqual(tie);
  });

  it("conserves the total rating (each update is zero-sum)", () => {
    const r = onlineElo([...repeat(5, "a", "b", "model_a"), ...repeat(2, "c", "a", "model_a"), ...repeat(3, "b", "c", "tie")]);
    expect(r.a + r.b + r.c).toBeCloseTo(3000, 9);
  });
});
