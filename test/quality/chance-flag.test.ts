// The "chance" flag's bar: the two-sided quantile at the fit's level, the level of the intervals
// shown beside it (docs/labeler-quality.md, "Measured", for why it moved from the one-sided one).
import { describe, expect, it } from "vitest";
import { MaceModel } from "../../src/quality/index.ts";
import { syntheticVotes } from "../../src/quality/synthetic.ts";

describe("the chance flag", () => {
  it("uses the two-sided normal quantile at the fit's level", () => {
    expect(new MaceModel().chanceZ).toBeCloseTo(1.959964, 5);
    expect(new MaceModel({ level: 0.9 }).chanceZ).toBeCloseTo(1.644854, 5);
  });

  it("flags exactly the labelers with enough evidence whose agreement above chance is below the bar", () => {
    const data = syntheticVotes({ labelers: 30, votesPerLabeler: 60, overlap: 2, randomFraction: 0.3, temperature: 1, seed: 4 });
    const model = new MaceModel();
    const fit = model.fit(data.votes);
    const between = fit.labelers.filter((l) => l.evidence >= model.minEvidence && l.aboveChance >= 1.645 && l.aboveChance < model.chanceZ);
    for (const l of fit.labelers) {
      const expected = l.evidence < model.minEvidence ? "no-evidence" : l.aboveChance < model.chanceZ ? "chance" : null;
      expect(l.flag, l.labeler).toBe(expected);
    }
    // The setting has labelers between the old one-sided bar and the new one: they are flagged now.
    expect(between.length).toBeGreaterThan(0);
    for (const l of between) expect(l.flag).toBe("chance");
  });

  it("finds random and always-A clickers among Bradley–Terry labelers with recall ≥ 0.95 and precision ≥ 0.9 over seeds", () => {
    let careless = 0,
      hits = 0,
      flagged = 0;
    for (const seed of [11, 12, 13, 14]) {
      const data = syntheticVotes({
        labelers: 40,
        votesPerLabeler: 200,
        overlap: 2,
        randomFraction: 0.15,
        alwaysAFraction: 0.15,
        temperature: 0.7,
        temperatureSpread: 0.3,
        tieThreshold: 0.3,
        seed,
      });
      const fit = new MaceModel().fit(data.votes);
      const byId = new Map(fit.labelers.map((l) => [l.labeler, l]));
      for (const l of data.labelers) {
        const isFlagged = byId.get(l.id)!.flag === "chance";
        if (l.kind !== "careful") careless++;
        if (isFlagged) flagged++;
        if (isFlagged && l.kind !== "careful") hits++;
      }
    }
    // 47 of 48 here; the one-sided bar (1.64) finds 45 (0.94).
    expect(hits / careless).toBeGreaterThanOrEqual(0.95);
    expect(hits / flagged).toBeGreaterThanOrEqual(0.9);
  });
});
