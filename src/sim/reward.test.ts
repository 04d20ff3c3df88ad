import { describe, expect, it } from "vitest";
import { lengthNormalizedReward, REPETITION_PENALTY, repeatedWords, rewardDetails, tokenizeForReward, trueReward } from "./reward.ts";

describe("tokenizeForReward", () => {
  it("lowercases, deletes apostrophes and splits on everything but letters and digits", () => {
    expect(tokenizeForReward("Don’t STOP—it's a well-known n00b, naïve!")).toEqual([
      "dont",
      "stop",
      "its",
      "a",
      "well",
      "known",
      "n00b",
      "naïve",
    ]);
    expect(tokenizeForReward(" \n\t...")).toEqual([]);
  });
});

describe("trueReward (AFINN-111)", () => {
  it('"summed" sums the valences of known words; unknown words count 0', () => {
    // good +3, bad −3, love +3, hate −3, table and the are not in the lexicon.
    expect(trueReward("good", "summed")).toBe(3);
    expect(trueReward("The table is GOOD, good!", "summed")).toBe(6);
    expect(trueReward("I love it but hate the bad table", "summed")).toBe(3 - 3 - 3);
    expect(trueReward("table chair window")).toBe(0);
    expect(trueReward("")).toBe(0);
  });

  it("matches multi-word entries as phrases, longest first, without double counting", () => {
    expect(rewardDetails("no fun at all").matches).toEqual([{ term: "no fun", valence: -3 }]);
    expect(trueReward("That was not good.")).toBe(-2);
    expect(trueReward("a cover-up")).toBe(-3);
    expect(trueReward("I can't stand it")).toBe(-3);
    expect(trueReward("I don't like it")).toBe(-2); // AFINN's "dont like"
    expect(trueReward("a once-in-a-lifetime trip")).toBe(3);
  });

  it("does NOT handle negation beyond the lexicon's own phrases", () => {
    // "not" is not in AFINN, so "not happy" scores as "happy" (+3); documented limitation.
    expect(trueReward("not happy")).toBe(trueReward("happy"));
    expect(trueReward("happy")).toBe(3);
  });

  it("is deterministic and has a per-word variant", () => {
    const text = "What a wonderful, wonderful day. Nothing bad happened.";
    expect(trueReward(text)).toBe(trueReward(text));
    const d = rewardDetails(text);
    expect(d.words).toBe(8);
    expect(d.reward).toBe(4 + 4 - 3);
    expect(lengthNormalizedReward(text)).toBeCloseTo(5 / 8, 12);
    expect(lengthNormalizedReward("...")).toBe(0);
  });
});

describe('trueReward, the default "distinct" kind', () => {
  it("counts each lexicon entry once per completion", () => {
    // good +3: once, however often it occurs; "good" is 4 letters, so each repeat costs 0.5.
    expect(trueReward("good")).toBe(3);
    expect(trueReward("good good good")).toBe(3 - 2 * REPETITION_PENALTY);
    expect(trueReward("good and great")).toBe(3 + 3);
    // a phrase is an entry of its own, counted once too
    expect(trueReward("no fun, no fun")).toBe(-3);
  });

  it("penalizes repeated words of four or more characters, not short function words", () => {
    expect(repeatedWords(["the", "the", "of", "of"])).toBe(0);
    expect(repeatedWords(["best", "best", "bes", "best", "peace", "peace"])).toBe(3);
    expect(trueReward("the table and the chair and the door")).toBe(0);
    expect(trueReward("table table table table")).toBe(-3 * REPETITION_PENALTY);
    // The v8 text: under the old reward it is worth a lot, under the new one little.
    const hacked = "best best best, bes best cou, best best best peace best best gr";
    expect(trueReward(hacked, "summed")).toBe(9 * 3 + 2);
    expect(trueReward(hacked)).toBe(3 + 2 - 8 * REPETITION_PENALTY);
  });

  it("keeps the old summed reward as an option, and refuses unknown kinds", () => {
    expect(trueReward("good good good", "summed")).toBe(9);
    expect(trueReward("I love it but hate the bad table", "summed")).toBe(-3);
    expect(() => trueReward("good", "median" as never)).toThrow(/unknown reward kind "median"/);
  });
});
