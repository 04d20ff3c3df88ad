import { describe, expect, it } from "vitest";
import { lengthNormalizedReward, rewardDetails, tokenizeForReward, trueReward } from "./reward.ts";

describe("tokenizeForReward", () => {
  it("lowercases, deletes apostrophes and splits on everything but letters and digits", () => {
    expect(tokenizeForReward("Don’t STOP—it's a well-known n00b, naïve!")).toEqual(["dont", "stop", "its", "a", "well", "known", "n00b", "naïve"]);
    expect(tokenizeForReward(" \n\t...")).toEqual([]);
  });
});

describe("trueReward (AFINN-111)", () => {
  it("sums the valences of known words; unknown words count 0", () => {
    // good +3, bad −3, love +3, hate −3, table and the are not in the lexicon.
    expect(trueReward("good")).toBe(3);
    expect(trueReward("The table is GOOD, good!")).toBe(6);
    expect(trueReward("I love it but hate the bad table")).toBe(3 - 3 - 3);
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
