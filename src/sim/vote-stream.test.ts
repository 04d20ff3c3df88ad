import { describe, expect, it } from "vitest";
import type { LabelerProfile } from "./labeler.ts";
import { type BankPair, longerAgreement, pickGold, truthOf, voteStream } from "./vote-stream.ts";

// Texts with known rewards: "good" +3, "bad" −3 (AFINN), the rest neutral.
const bank: BankPair[] = Array.from({ length: 40 }, (_, i) =>
  i % 4 === 3
    ? { prompt: `p${i}`, a: "the day was plain", b: "the day was plain too" }
    : i % 2
      ? { prompt: `p${i}`, a: "it was a bad day", b: "it was a good day at last" }
      : { prompt: `p${i}`, a: "it was a good day at last", b: "it was a bad day" },
);
const careful: LabelerProfile = { temperature: 0.01, tieThreshold: 0.5, careless: false };
const alwaysA: LabelerProfile = { temperature: 1, tieThreshold: 0.5, careless: true, carelessKind: "always-a" };

describe("truthOf", () => {
  it("is the noiseless careful labeler: higher reward, a tie below the threshold", () => {
    expect(truthOf("a good day", "a bad day", 0.5)).toBe("A");
    expect(truthOf("a bad day", "a good day", 0.5)).toBe("B");
    expect(truthOf("a plain day", "a plain night", 0.5)).toBe("TIE");
  });
});

describe("voteStream", () => {
  const labelers = [careful, careful, careful, alwaysA, careful, careful];
  const gold = pickGold(bank, 10, 0.5, 1);
  const votes = voteStream({ bank, labelers, votesPerLabeler: 120, goldRate: 0.1, goldPairs: gold, agreementShare: 0.3, seed: 3 });

  it("gives every labeler one vote per turn and never the same item twice", () => {
    for (let l = 0; l < labelers.length; l++) {
      const mine = votes.filter((v) => v.labeler === l);
      expect(mine.length).toBe(120);
      expect(new Set(mine.map((v) => v.item)).size).toBe(120);
      expect(mine.map((v) => v.turn)).toEqual(Array.from({ length: 120 }, (_, t) => t + 1));
    }
  });

  it("serves gold at about the gold rate, each pair at most once per labeler, recorded in the pair's own order", () => {
    const goldVotes = votes.filter((v) => v.gold);
    // 10 gold pairs per labeler at most; at 10% of 120 votes most labelers see most of them.
    expect(goldVotes.length).toBeGreaterThan(6 * 6);
    expect(goldVotes.length).toBeLessThanOrEqual(6 * 10);
    for (const v of goldVotes) expect(gold).toContain(v.bankIndex);
    // A careful labeler answers gold right whatever side it was shown on; an always-left
    // clicker's answers in the pair's order split between A and B.
    const byCareful = goldVotes.filter((v) => v.labeler !== 3);
    expect(byCareful.every((v) => v.answer === v.truth)).toBe(true);
    const left = goldVotes.filter((v) => v.labeler === 3);
    expect(left.some((v) => v.answer === "A")).toBe(true);
    expect(left.some((v) => v.answer === "B")).toBe(true);
  });

  it("gives about the agreement share of pool prompts a second labeler, in the same order", () => {
    const byItem = new Map<string, typeof votes>();
    for (const v of votes.filter((x) => !x.gold)) byItem.set(v.item, [...(byItem.get(v.item) ?? []), v]);
    const counts = [...byItem.values()].map((vs) => vs.length);
    expect(Math.max(...counts)).toBe(2);
    const twice = counts.filter((c) => c === 2).length / counts.length;
    expect(twice).toBeGreaterThan(0.2);
    expect(twice).toBeLessThan(0.4);
    for (const vs of byItem.values()) {
      if (vs.length < 2) continue;
      expect(vs[0]!.truth).toBe(vs[1]!.truth);
      expect(vs[0]!.labeler).not.toBe(vs[1]!.labeler);
      // Two careful labelers agree on a pair they both saw in the same order.
      if (vs.every((v) => v.labeler !== 3)) expect(vs[0]!.answer).toBe(vs[1]!.answer);
    }
  });

  it("is reproducible from its seed", () => {
    const again = voteStream({ bank, labelers, votesPerLabeler: 120, goldRate: 0.1, goldPairs: gold, agreementShare: 0.3, seed: 3 });
    expect(again).toEqual(votes);
  });
});

describe("pickGold and longerAgreement", () => {
  it("picks only clear pairs", () => {
    const g = pickGold(bank, 100, 0.5, 2);
    expect(g.length).toBe(30); // every pair but the ten ties
    for (const i of g) expect(["A", "B"]).toContain(truthOf(bank[i]!.a, bank[i]!.b, 0.5));
  });

  it("counts how often the longer text is the better one", () => {
    // In the bank the good text is always the longer one; the tie pairs do not count.
    expect(longerAgreement(bank, 0.5)).toBe(1);
  });
});
