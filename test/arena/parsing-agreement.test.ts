// Prompt-file parsing (what is accepted, what is rejected and why) and the agreement statistics.
import { describe, expect, it } from "vitest";
import { detectFormat, parseCsv, parseImport } from "../../src/server/services/prompts/parse-import.ts";
import { cohenKappa, fleissKappa, majorityAgreement, type Rating } from "../../src/server/services/stats/agreement.ts";

describe("prompt import parsing", () => {
  it("JSONL: accepts objects with a prompt, reports every other line with its number", () => {
    const r = parseImport(
      [
        '{"prompt": "Tell me a story"}',
        "",
        "not json",
        '{"text": "x"}',
        '["a"]',
        '{"prompt": "  "}',
        '{"prompt": "ok", "overlapTarget": 3}',
        '{"prompt": "bad", "overlapTarget": 0}',
      ].join("\n"),
      "jsonl",
    );
    expect(r.prompts).toEqual([
      { line: 1, text: "Tell me a story" },
      { line: 7, text: "ok", overlapTarget: 3 },
    ]);
    expect(r.rejected.map((x) => [x.line, x.reason])).toEqual([
      [3, "not valid JSON"],
      [4, 'missing a string "prompt" field'],
      [5, 'expected an object like {"prompt": "..."}'],
      [6, "empty prompt"],
      [8, "overlap target must be a whole number from 1 to 100, got 0"],
    ]);
  });

  it("CSV: quoted commas, quotes and newlines; wrong column counts are rejected", () => {
    const csv = 'prompt,overlap_target\n"Hello, world",2\n"She said ""hi""",\n"two\nlines",1\nextra,1,2\n';
    expect(parseCsv(csv).map((r) => r.line)).toEqual([1, 2, 3, 4, 6]);
    const r = parseImport(csv, "csv");
    expect(r.prompts).toEqual([
      { line: 2, text: "Hello, world", overlapTarget: 2 },
      { line: 3, text: 'She said "hi"' },
      { line: 4, text: "two\nlines", overlapTarget: 1 },
    ]);
    expect(r.rejected).toEqual([{ line: 6, reason: "expected 2 columns, found 3", excerpt: "extra,1,2" }]);
    expect(parseImport("text\nabc\n", "csv").rejected[0]!.reason).toMatch(/no "prompt" column/);
  });

  it("plain text: one prompt per line; too long and NUL lines are rejected", () => {
    const r = parseImport(`first\n\nsecond\n${"x".repeat(2001)}\nbad\u0000line`, "text");
    expect(r.prompts.map((p) => p.text)).toEqual(["first", "second"]);
    expect(r.rejected.map((x) => x.line)).toEqual([4, 5]);
  });

  it("detects the format from the file name, then from the content", () => {
    expect(detectFormat("a.jsonl", "x")).toBe("jsonl");
    expect(detectFormat("a.CSV", "x")).toBe("csv");
    expect(detectFormat(undefined, '\n{"prompt":"a"}')).toBe("jsonl");
    expect(detectFormat(undefined, "prompt,overlap_target\na,1")).toBe("csv");
    expect(detectFormat(undefined, "just a line")).toBe("text");
  });
});

const r = (item: string, rater: string, category: string): Rating => ({ item, rater, category });

describe("agreement", () => {
  it("Cohen's κ matches a hand computation", () => {
    // 10 shared items: agree on 7; marginals A: (A6,B4), B: (A5,B5). p_o = .7, p_e = .6*.5+.4*.5 = .5, κ = .4
    const a = ["A", "A", "A", "A", "A", "A", "B", "B", "B", "B"];
    const b = ["A", "A", "A", "A", "B", "B", "A", "B", "B", "B"];
    const ratings = a.flatMap((c, i) => [r(`i${i}`, "x", c), r(`i${i}`, "y", b[i]!)]);
    ratings.push(r("only-x", "x", "A"));
    const k = cohenKappa(ratings, "x", "y");
    expect(k.shared).toBe(10);
    expect(k.kappa).toBeCloseTo(0.4, 10);
    expect(cohenKappa(ratings, "x", "nobody")).toEqual({ kappa: null, shared: 0 });
  });

  it("Fleiss' κ is 1 for perfect agreement, negative for systematic disagreement, and matches a hand computation", () => {
    expect(fleissKappa([r("1", "a", "A"), r("1", "b", "A"), r("2", "a", "B"), r("2", "b", "B")]).kappa).toBe(1);
    expect(fleissKappa([r("1", "a", "A"), r("1", "b", "B"), r("2", "a", "B"), r("2", "b", "A")]).kappa).toBe(-1);
    // 3 raters, 2 items: (A,A,B) and (B,B,B). P1 = (4+1-3)/6 = 1/3, P2 = 1, P̄ = 2/3; p_A = 2/6, p_B = 4/6, P_e = 5/9; κ = (2/3-5/9)/(4/9) = .25
    const k = fleissKappa([
      r("1", "a", "A"),
      r("1", "b", "A"),
      r("1", "c", "B"),
      r("2", "a", "B"),
      r("2", "b", "B"),
      r("2", "c", "B"),
      r("3", "a", "A"),
    ]);
    expect(k.items).toBe(2);
    expect(k.kappa).toBeCloseTo(0.25, 10);
  });

  it("agreement with the majority of the other raters skips items without a clear majority", () => {
    // item 1: for a and b the others split (skipped), for c the others say A; item 2: always split;
    // item 3: A,A,A,B.
    const m = majorityAgreement([
      r("1", "a", "A"),
      r("1", "b", "A"),
      r("1", "c", "B"),
      r("2", "a", "TIE"),
      r("2", "b", "A"),
      r("2", "c", "B"),
      r("3", "a", "A"),
      r("3", "b", "A"),
      r("3", "c", "A"),
      r("3", "d", "B"),
    ]);
    expect(Object.fromEntries(m)).toEqual({
      a: { agree: 1, compared: 1 },
      b: { agree: 1, compared: 1 },
      c: { agree: 1, compared: 2 },
      d: { agree: 0, compared: 1 },
    });
  });
});
