import { describe, expect, it } from "vitest";
import { isDegenerate, repeatedWordShare, repetitionCounts, repetitionRate } from "./repetition.ts";

describe("repetitionRate (share of repeated word 3-grams)", () => {
  it("counts 3-grams that repeat an earlier one of the same text", () => {
    // "of the people of the people": 3-grams of-the-people, the-people-of, people-of-the, of-the-people (repeat)
    expect(repetitionCounts("of the people of the people")).toMatchObject({ trigrams: 4, repeatedTrigrams: 1, words: 6, distinctWords: 3 });
    expect(repetitionRate(["of the people of the people"])).toBeCloseTo(1 / 4, 12);
    expect(repetitionRate(["The ship sailed out of the harbour at dawn"])).toBe(0);
  });

  it("pools over texts, so a long text weighs by its 3-grams; texts under three words count nothing", () => {
    // 4 3-grams with 1 repeat, plus 8 distinct 3-grams, plus two too short to have any
    expect(repetitionRate(["of the people of the people", "one two three four five six seven eight nine ten", "hi", ""])).toBeCloseTo(
      1 / 12,
      12,
    );
    expect(repetitionRate(["a b", ""])).toBe(0);
  });

  it("does not see repetition across texts, only within one", () => {
    expect(repetitionRate(["the good ship sails", "the good ship sails"])).toBe(0);
  });

  it("repeatedWordShare counts repeated words, pooled", () => {
    expect(repeatedWordShare(["best best best peace"])).toBeCloseTo(2 / 4, 12);
    expect(repeatedWordShare(["best best best peace", "a b c d"])).toBeCloseTo(2 / 8, 12);
  });
});

describe("isDegenerate", () => {
  it("flags heavy repetition the way a reader would", () => {
    expect(isDegenerate("best best best, bes best cou, best best best peace best best gr")).toBe(true);
    expect(isDegenerate("of the people of the people of the people")).toBe(true);
    expect(isDegenerate("hope hope hope hope hope hope")).toBe(true);
  });

  it("leaves ordinary text, and text too short to judge, alone", () => {
    expect(isDegenerate("The people of this nation have the right to choose the road")).toBe(false);
    expect(isDegenerate("We shall not fail the trust of the people who sent us")).toBe(false);
    expect(isDegenerate("best best best")).toBe(false);
    expect(isDegenerate("")).toBe(false);
  });
});
