import { describe, expect, it } from "vitest";
import { createLabelerPool, createRng, decide, judge, type LabelerProfile, preferenceProbability } from "./labeler.ts";

const careful: LabelerProfile = { temperature: 1.5, tieThreshold: 0.25, careless: false };

describe("decide", () => {
  it("votes A with the Bradley–Terry probability σ((rA − rB)/T) (chi-square, fixed seed)", () => {
    const rng = createRng(2024);
    const diffs = [-4, -1.5, -0.5, 0.3, 1, 2.5, 6];
    const n = 4000;
    let chi2 = 0;
    for (const d of diffs) {
      let a = 0;
      for (let k = 0; k < n; k++) if (decide(10 + d, 10, careful, rng) === "A") a++;
      const p = preferenceProbability(10 + d, 10, careful.temperature);
      expect(p).toBeCloseTo(1 / (1 + Math.exp(-d / 1.5)), 12);
      // Each group: a binomial count; sum of squared z-scores is chi-square with 7 dof.
      chi2 += (a - n * p) ** 2 / (n * p * (1 - p));
    }
    // 0.999 quantile of chi-square with 7 degrees of freedom.
    expect(chi2).toBeLessThan(24.3);
  });

  it("a steeper temperature makes the same difference more decisive", () => {
    const rng = createRng(1);
    const count = (t: number) => {
      let a = 0;
      for (let k = 0; k < 3000; k++) if (decide(1, 0, { temperature: t, tieThreshold: 0, careless: false }, rng) === "A") a++;
      return a / 3000;
    };
    expect(count(0.2)).toBeGreaterThan(0.97);
    expect(Math.abs(count(100) - 0.5)).toBeLessThan(0.05);
  });

  it("ties when the difference is below the threshold, and only then", () => {
    const rng = createRng(3);
    const votes = new Set(Array.from({ length: 500 }, () => decide(1.1, 1.0, careful, rng)));
    expect([...votes]).toEqual(["TIE"]);
    const outside = new Set(Array.from({ length: 500 }, () => decide(1.3, 1.0, careful, rng)));
    expect(outside.has("TIE")).toBe(false);
  });

  it("careless labelers ignore the rewards and pick A or B with probability ½", () => {
    const rng = createRng(4);
    const n = 10_000;
    let a = 0,
      ties = 0;
    for (let k = 0; k < n; k++) {
      const v = decide(100, 0, { ...careful, careless: true }, rng);
      if (v === "A") a++;
      if (v === "TIE") ties++;
    }
    expect(ties).toBe(0);
    expect(Math.abs(a - n / 2)).toBeLessThan(4 * Math.sqrt(n / 4));
  });

  it("is reproducible for a seed and rejects nonsense profiles", () => {
    const run = (seed: number) => {
      const rng = createRng(seed);
      return Array.from({ length: 50 }, (_, k) => decide(k % 5, 2, careful, rng)).join("");
    };
    expect(run(9)).toBe(run(9));
    expect(run(9)).not.toBe(run(10));
    expect(() => decide(1, 0, { ...careful, temperature: 0 }, createRng(0))).toThrow(/temperature must be a positive number/);
    expect(() => decide(NaN, 0, careful, createRng(0))).toThrow(/rewards must be finite/);
  });
});

describe("createLabelerPool", () => {
  it("makes the requested fraction careless, reproducibly", () => {
    const pool = createLabelerPool({
      count: 10,
      carelessFraction: 0.2,
      temperature: 1,
      tieThreshold: 0.5,
      temperatureSpread: 0.3,
      seed: 5,
    });
    expect(pool.filter((l) => l.careless)).toHaveLength(2);
    expect(pool.every((l) => l.tieThreshold === 0.5 && l.temperature > 0)).toBe(true);
    expect(new Set(pool.map((l) => l.temperature)).size).toBe(10);
    expect(
      createLabelerPool({ count: 10, carelessFraction: 0.2, temperature: 1, temperatureSpread: 0.3, seed: 5 }).map((l) => l.careless),
    ).toEqual(pool.map((l) => l.careless));
    expect(() => createLabelerPool({ count: 3, carelessFraction: 2, temperature: 1 })).toThrow(/carelessFraction must be in \[0, 1\]/);
  });
});

describe("judge (labelers that read the text)", () => {
  const hacked = "best best best, bes best cou, best best best peace best best gr";
  const fine = "The nation stood firm and its people were proud and free";
  const looped = "of the people of the people of the people";

  it("calls two degenerate completions BOTH_BAD, whatever their lexicon score", () => {
    const rng = createRng(5);
    for (let k = 0; k < 50; k++) expect(judge(hacked, looped, careful, rng).choice).toBe("BOTH_BAD");
  });

  it("prefers a readable completion over a degenerate one even when the degenerate one scores more words", () => {
    const rng = createRng(6);
    for (let k = 0; k < 50; k++) {
      expect(judge(hacked, fine, careful, rng).choice).toBe("B");
      expect(judge(fine, hacked, careful, rng).choice).toBe("A");
    }
  });

  it("decides readable pairs by the distinct reward, exactly like decide()", () => {
    const a = createRng(7);
    const b = createRng(7);
    const good = "We hope for peace and a good harvest this year";
    for (let k = 0; k < 200; k++) {
      const j = judge(good, fine, careful, a);
      expect(j.choice).toBe(decide(j.rewardA, j.rewardB, careful, b));
    }
  });

  it("with the old summed reward counts words and nothing else, so the hacked text wins", () => {
    const rng = createRng(8);
    let hackedWins = 0;
    for (let k = 0; k < 200; k++) if (judge(hacked, fine, careful, rng, "summed").choice === "A") hackedWins++;
    expect(hackedWins).toBeGreaterThan(190);
    const j = judge(hacked, fine, careful, createRng(1), "summed");
    expect(j.rewardA).toBe(29);
  });
});

describe("biased careless labelers (issue 15)", () => {
  it("'always-a' clicks the left answer and 'longer' the longer one, whatever the rewards, drawing one uniform per vote", () => {
    const alwaysA: LabelerProfile = { ...careful, careless: true, carelessKind: "always-a" };
    const longer: LabelerProfile = { ...careful, careless: true, carelessKind: "longer" };
    const rng = createRng(21);
    for (let k = 0; k < 200; k++) expect(decide(0, 100, alwaysA, rng)).toBe("A");
    expect(judge("a short and happy one", "a much longer, sadder, dreadful and awful answer", longer, createRng(1)).choice).toBe("B");
    expect(judge("a much longer, happier, lovely and wonderful answer", "bad, awful", longer, createRng(1)).choice).toBe("A");
    // One uniform per call on every branch, so the seeded stream stays aligned.
    const a = createRng(5);
    const b = createRng(5);
    judge("x", "yy", longer, a);
    b.next();
    expect(a.next()).toBe(b.next());
  });

  it("the pool gives the kind to its careless labelers only, and refuses an unknown kind", () => {
    const pool = createLabelerPool({ count: 10, carelessFraction: 0.3, carelessKind: "longer", temperature: 1, seed: 2 });
    expect(pool.filter((l) => l.careless).every((l) => l.carelessKind === "longer")).toBe(true);
    expect(pool.filter((l) => !l.careless).every((l) => l.carelessKind === undefined)).toBe(true);
    expect(() => createLabelerPool({ count: 3, carelessKind: "sleepy" as never, temperature: 1 })).toThrow(/carelessKind must be one of/);
  });
});
