// The append-only deltas a stream sends, from the sampler's rewritable text updates.
import { describe, expect, it } from "vitest";
import { DeltaTracker } from "../../src/server/services/inference/stream-text.ts";

const ev = (from: number, append: string) => ({ index: 0, tokenIds: [], from, append });

describe("DeltaTracker", () => {
  it("holds back a half UTF-8 character until the sampler rewrites it", () => {
    const t = new DeltaTracker([]);
    expect(t.update(ev(0, "ab"))).toBe("ab");
    expect(t.update(ev(2, "\uFFFD"))).toBe(""); // first byte of "é"
    expect(t.update(ev(2, "é"))).toBe("é");
    expect(t.finish(0, "abé!")).toBe("!");
  });

  it("never sends a tail that may still become a stop string, and sends it once it cannot", () => {
    const t = new DeltaTracker(["\n\n", "END"]);
    expect(t.update(ev(0, "one\n"))).toBe("one");
    expect(t.update(ev(4, "x E"))).toBe("\nx ");
    expect(t.update(ev(7, "N"))).toBe("");
    // the sampler cut the text before the completed stop string
    expect(t.finish(0, "one\nx ")).toBe("");
    const u = new DeltaTracker(["END"]);
    expect(u.update(ev(0, "EN"))).toBe("");
    expect(u.update(ev(2, "d"))).toBe("ENd");
  });
});
