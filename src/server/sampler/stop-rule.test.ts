import { describe, expect, it } from "vitest";
import { BoundaryStop, lengthUnitForVocab, overshootFor, planStop } from "./stop-rule.ts";

const EOS = 257;

/** Feeds `text` one character per token (a byte-level model on ASCII) and collects what is shown. */
function feed(text: string, plan: { target: number; limit: number }, opts: { eosAt?: number } = {}) {
  const stop = new BoundaryStop(1, plan, EOS);
  const shown: string[] = [];
  let so = "";
  for (let i = 0; i < plan.limit; i++) {
    if (opts.eosAt === i) {
      const v = stop.observe(0, EOS, so);
      if (v) shown.push(v.text);
      break;
    }
    so += text[i] ?? "x";
    const v = stop.observe(0, so.charCodeAt(so.length - 1), so);
    if (v) shown.push(v.text);
    if (stop.settled) break;
  }
  return { stop, shown, last: shown.at(-1) };
}

describe("stop rule", () => {
  it("derives the unit from the vocabulary: bytes for a byte-level model, tokens for BPE", () => {
    expect(lengthUnitForVocab(260)).toBe("bytes");
    expect(lengthUnitForVocab(50257)).toBe("tokens");
    expect(lengthUnitForVocab(128256)).toBe("tokens");
    expect(overshootFor("bytes")).toBeGreaterThan(overshootFor("tokens"));
  });

  it("plans an overshoot past the target, and moves the target back when the context is the bound", () => {
    expect(planStop(160, 24, 1000)).toEqual({ target: 160, limit: 184 });
    expect(planStop(160, 24, 170)).toEqual({ target: 146, limit: 170 });
    expect(planStop(160, 24, 10)).toEqual({ target: 1, limit: 10 });
  });

  it("ends at the first word boundary after the target, never mid-word", () => {
    const text = "The great ship sailed into the harbour at dawn";
    const { stop, last } = feed(text, { target: 12, limit: 30 }); // the 12th character is inside "ship"
    expect(last).toBe("The great ship");
    expect(stop.cutOf(0)).toEqual({ keep: 14, text: "The great ship" });
  });

  it("ends at a sentence end without waiting for the next token", () => {
    const { stop } = feed("It rained. Then the sun came", { target: 8, limit: 30 });
    expect(stop.cutOf(0)).toEqual({ keep: 10, text: "It rained." });
  });

  it("holds back text past the target until the cut is known, so dropped text is never shown", () => {
    const { shown } = feed("abcdefgh ijk", { target: 4, limit: 20 });
    expect(shown.slice(0, 4)).toEqual(["a", "ab", "abc", "abcd"]);
    expect(shown.at(-1)).toBe("abcdefgh");
    expect(shown).not.toContain("abcdefgh ");
  });

  it("does not cut before the target, nor at a boundary that ends in whitespace", () => {
    const { stop } = feed("a b c d efghijk  lmn", { target: 9, limit: 30 });
    expect(stop.cutOf(0)?.text).toBe("a b c d efghijk");
  });

  it("EOS ends a sequence where it comes; no cut is recorded", () => {
    const { stop, last } = feed("abcdefghijklmnop", { target: 4, limit: 20 }, { eosAt: 7 });
    expect(stop.cutOf(0)).toBeNull();
    expect(stop.settled).toBe(true);
    expect(last).toBe("abcdefg");
  });

  it("a sequence without any boundary within the overshoot is not cut (the limit ends it)", () => {
    const { stop } = feed("abcdefghijklmnopqrstuvwxyz", { target: 4, limit: 10 });
    expect(stop.cutOf(0)).toBeNull();
    expect(stop.settled).toBe(false);
  });

  it("settles only when every sequence found its end", () => {
    const stop = new BoundaryStop(2, { target: 2, limit: 10 }, EOS);
    stop.observe(0, 97, "a");
    stop.observe(0, 98, "ab");
    stop.observe(0, 32, "ab ");
    expect(stop.cutOf(0)?.text).toBe("ab");
    expect(stop.settled).toBe(false);
    stop.observe(1, EOS, "");
    expect(stop.settled).toBe(true);
  });
});
