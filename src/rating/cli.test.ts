import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { run } from "./cli.ts";
import { bootstrap, toCleanBattleLines } from "./index.ts";
import { repeat, synthetic } from "./test-helpers.ts";

const dir = mkdtempSync(path.join(tmpdir(), "ratings-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const battles = [...synthetic({ alpha: 1150, beta: 1000, gamma: 900 }, 1500, 12, 0.1), ...repeat(3, "beta", "beta", "model_a")];
const file = path.join(dir, "battles.jsonl");
writeFileSync(
  file,
  `${toCleanBattleLines(battles) + JSON.stringify({ model_a: "alpha", model_b: "gamma", winner: "model_b", anony: false })}\n`,
);

async function cli(...argv: string[]) {
  let out = "",
    err = "";
  const code = await run(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

describe("ratings CLI", () => {
  it("prints one JSON object keyed by model with elo, bt, ci, rank and battles", async () => {
    const { code, out, err } = await cli("--input", file, "--bootstrap", "40", "--seed", "3", "--json");
    expect(err).toBe("");
    expect(code).toBe(0);
    expect(out.trim().split("\n")).toHaveLength(1);
    const result = JSON.parse(out);
    expect(Object.keys(result)).toEqual(["alpha", "beta", "gamma"]);
    const lib = bootstrap(battles, { rounds: 40, seed: 3 });
    for (const m of ["alpha", "beta", "gamma"]) {
      expect(Object.keys(result[m])).toEqual(["elo", "bt", "ci", "rank", "battles"]);
      expect(result[m].bt).toBeCloseTo(lib.ratings[m], 9);
      expect(result[m].ci).toEqual(lib.ci[m]);
      expect(result[m].rank).toBe(lib.rank[m]);
    }
    // 1500 rated battles, each counted for two models; the anony:false row is skipped.
    expect(result.alpha.battles + result.beta.battles + result.gamma.battles).toBe(3000);
  });

  it("anchors with MODEL=RATING and prints a readable table without --json", async () => {
    const json = JSON.parse((await cli("--input", file, "--anchor", "beta=1114", "--bootstrap=10", "--json")).out);
    expect(json.beta.bt).toBeCloseTo(1114, 9);
    const { code, out } = await cli("--input", file, "--bootstrap", "10");
    expect(code).toBe(0);
    expect(out).toMatch(/rank\s+model\s+bt\s+95% CI\s+elo\s+battles/);
    expect(out).toMatch(/1500 battles \(3 self-battles not rated\), 10 bootstrap rounds, seed 0/);
  });

  it("exits 2 with a message for bad flags, unreadable files and malformed lines", async () => {
    const bad = path.join(dir, "bad.jsonl");
    writeFileSync(bad, `${JSON.stringify({ model_a: "a", model_b: "b", winner: "tie" })}\nnot json\n`);
    const cases: [string[], RegExp][] = [
      [["--input", file, "--bootstrap", "zero"], /--bootstrap must be a positive integer/],
      [["--input", file, "--anchor", "beta"], /--anchor must look like MODEL=RATING/],
      [["--input", file, "--frobnicate"], /unknown option --frobnicate/],
      [["--json"], /--input is required \(--input FILE\)/],
      [["--input", path.join(dir, "missing.jsonl")], /cannot read .*missing.jsonl: ENOENT/],
      [["--input", bad], /bad.jsonl: line 2: not valid JSON/],
      [["--input", file, "--anchor", "delta=1000"], /anchor model "delta" has no rated battles/],
    ];
    for (const [argv, message] of cases) {
      const { code, err, out } = await cli(...argv);
      expect(code).toBe(2);
      expect(err).toMatch(message);
      expect(out).toBe("");
    }
  });

  it("runs through `npm run cli -- ratings`' entry point", () => {
    const r = spawnSync("npx", ["tsx", "scripts/cli.ts", "ratings", "--input", file, "--bootstrap", "5", "--json"], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(Object.keys(JSON.parse(r.stdout))).toEqual(["alpha", "beta", "gamma"]);
  });
});
