import { describe, expect, it } from "vitest";
import { parseCleanBattles, toCleanBattleLines } from "./index.ts";

describe("parseCleanBattles", () => {
  const rows = [
    { model_a: "gpt", model_b: "llama", winner: "model_a", tstamp: 1.5, anony: true, judge: "x" },
    { model_a: "llama", model_b: "gpt", winner: "tie (bothbad)", tstamp: 2 },
    { model_a: "gpt", model_b: "llama", winner: "model_b", tstamp: 3, anony: false },
  ];

  it("reads a JSON array and JSON lines alike, dropping non-anonymous battles", () => {
    const expected = [
      { modelA: "gpt", modelB: "llama", winner: "model_a", tstamp: 1.5 },
      { modelA: "llama", modelB: "gpt", winner: "tie (bothbad)", tstamp: 2 },
    ];
    expect(parseCleanBattles(JSON.stringify(rows))).toEqual(expected);
    expect(parseCleanBattles(`\n${rows.map((r) => JSON.stringify(r)).join("\r\n")}\n\n`)).toEqual(expected);
    expect(parseCleanBattles("  ")).toEqual([]);
  });

  it("round-trips through the export format", () => {
    const battles = parseCleanBattles(JSON.stringify(rows));
    expect(parseCleanBattles(toCleanBattleLines(battles))).toEqual(battles);
  });

  it("names the line and the problem for malformed input", () => {
    const good = JSON.stringify(rows[0]);
    expect(() => parseCleanBattles(`${good}\n{oops\n`)).toThrow(/^line 2: not valid JSON/);
    expect(() => parseCleanBattles(`${good}\n\n${JSON.stringify({ model_a: "a", model_b: "b", winner: "draw" })}`)).toThrow(
      /line 3: "winner" must be one of .* got "draw"/,
    );
    expect(() => parseCleanBattles(JSON.stringify({ model_a: "a", winner: "tie" }))).toThrow(
      /line 1: "model_b" must be a non-empty string/,
    );
    expect(() => parseCleanBattles(JSON.stringify([rows[0], { model_a: "a", model_b: "b", winner: "tie", tstamp: "noon" }]))).toThrow(
      /array element 1: "tstamp" must be a number/,
    );
    expect(() => parseCleanBattles("[1, 2")).toThrow(/not a valid JSON array/);
    expect(() => parseCleanBattles("42")).toThrow(/line 1: expected a JSON object/);
  });
});
