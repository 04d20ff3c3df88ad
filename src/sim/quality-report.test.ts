import { describe, expect, it } from "vitest";
import { type EstimatedLabeler, labelerEstimates } from "./quality-report.ts";

const est = (username: string, flag: EstimatedLabeler["flag"], flipRate: number): EstimatedLabeler => ({
  username,
  votes: 100,
  flipRate: { estimate: flipRate, lower: flipRate - 0.1, upper: flipRate + 0.1 },
  flag,
  gold: { correct: 3, total: 4, accuracy: 0.75 },
});

describe("labelerEstimates", () => {
  it("puts the product's estimate next to the truth and scores the chance flag", () => {
    const { rows, flags } = labelerEstimates(
      [
        { username: "a", careless: true },
        { username: "b", careless: true, carelessKind: "always-a" },
        { username: "c", careless: false },
        { username: "d", careless: false },
        { username: "e", careless: false },
      ],
      [est("a", "chance", 0.45), est("b", null, 0.3), est("c", "chance", 0.4), est("d", null, 0.1)],
    );
    expect(flags).toEqual({ precision: 0.5, recall: 0.5, flagged: 2, careless: 2 });
    expect(rows[0]).toMatchObject({ careless: true, carelessKind: "random", flagged: true, flipRate: 0.45, goldAccuracy: 0.75 });
    expect(rows[1]).toMatchObject({ carelessKind: "always-a", flagged: false });
    expect(rows[0]!.flipRateInterval![0]).toBeCloseTo(0.35, 12);
    // A labeler the product does not know (no votes): no estimate, not flagged.
    expect(rows[4]).toMatchObject({ votes: 0, flipRate: null, flipRateInterval: null, flagged: false, flag: null });
  });

  it("says 'no value' rather than 0 when nothing is flagged or nobody is careless", () => {
    const { flags } = labelerEstimates([{ username: "c", careless: false }], [est("c", null, 0.1)]);
    expect(flags).toEqual({ precision: null, recall: null, flagged: 0, careless: 0 });
  });
});
