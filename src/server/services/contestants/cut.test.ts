import { describe, expect, it } from "vitest";
import { ContestantCut } from "./cut.ts";

const feed = (cut: ContestantCut, pieces: string[]) => {
  for (const p of pieces) if (cut.push(p)) return true;
  return false;
};

describe("a contestant's answer ends by the local stop rule", () => {
  it("bytes: aims for max new tokens, then ends at the next word boundary (never mid-word)", () => {
    const cut = new ContestantCut("bytes", 10);
    // 24-byte overshoot for bytes: the answer may run to 34 bytes while looking for a boundary
    expect(cut.requestTokens).toBe(34);
    const text = "The quick brownish fox jumps over the lazy dog again and again";
    const ended = feed(cut, [text.slice(0, 7), text.slice(7, 15), text.slice(15)]);
    expect(ended).toBe(true);
    expect(cut.finish).toBe("boundary");
    expect(cut.text).toBe("The quick brownish");
  });

  it("bytes: counts UTF-8 bytes, not characters", () => {
    const cut = new ContestantCut("bytes", 6);
    // "ééé" is 6 bytes: the target is reached at the third é, and the space after it ends the word
    feed(cut, ["ééé ab cd"]);
    expect(cut.text).toBe("ééé");
  });

  it("shows nothing past the target before the cut is known", () => {
    const cut = new ContestantCut("bytes", 5);
    cut.push("Hello");
    expect(cut.text).toBe("Hello");
    cut.push("wor");
    expect(cut.text).toBe("Hello"); // held back: the word may still be cut
    expect(cut.finish).toBeNull();
  });

  it("the contestant's own end keeps its whole (short) answer", () => {
    const cut = new ContestantCut("bytes", 100);
    feed(cut, ["Short ", "answer."]);
    cut.end("stop");
    expect(cut.finish).toBe("eos");
    expect(cut.text).toBe("Short answer.");
  });

  it("with no boundary within the overshoot, it ends at the limit like the local side", () => {
    const cut = new ContestantCut("bytes", 4);
    expect(feed(cut, ["x".repeat(100)])).toBe(true);
    expect(cut.finish).toBe("length");
    expect(cut.text).toBe("x".repeat(4 + 24));
  });

  it("tokens: each streamed delta counts as one token", () => {
    const cut = new ContestantCut("tokens", 3);
    expect(cut.requestTokens).toBe(3 + 8);
    feed(cut, ["One", " two", " three", " four", " five"]);
    expect(cut.finish).toBe("boundary");
    expect(cut.text).toBe("One two three");
  });
});
