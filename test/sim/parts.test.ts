// The sim's pieces that need no running product: extra prompts, ratings from arena votes, the
// acceptance summary and the report files.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ratingsFromVotes, type ArenaVote } from "../../src/sim/evaluate.ts";
import { bookPrefixes } from "../../src/sim/prompts.ts";
import { cutBeforeSentimentWord, sentimentPrefixes } from "../../src/sim/sentiment-prompts.ts";
import { summarize } from "../../src/sim/product/run.ts";
import { writeReport, type ReportVersion } from "../../src/sim/report.ts";

function version(name: string, meanReward: number, extra: Partial<ReportVersion> = {}): ReportVersion {
  return {
    name, meanReward, rewardStd: 1, rewardStderr: 0.1, kl: 0, klStderr: 0, heldoutAccuracy: null,
    rating: null, ratingCi: null, ratingBattles: 0, samples: 10, nonZeroShare: 0.5, status: "RETIRED", ...extra,
  };
}

describe("bookPrefixes", () => {
  it("gives distinct, short, printable sentence openings, the same for the same seed", () => {
    const a = bookPrefixes(300, { seed: 4 });
    expect(new Set(a).size).toBe(300);
    for (const p of a) {
      expect(p.length).toBeLessThanOrEqual(64);
      expect(p).toMatch(/^[A-Z][\x20-\x7e]*$/);
      const words = p.split(" ").length;
      expect(words).toBeGreaterThanOrEqual(5);
      expect(words).toBeLessThanOrEqual(9);
    }
    expect(bookPrefixes(300, { seed: 4 })).toEqual(a);
    expect(bookPrefixes(300, { seed: 5 })).not.toEqual(a);
  });

  it("refuses to invent prompts the book does not have", () => {
    expect(() => bookPrefixes(1_000_000)).toThrow(/only \d+ distinct prefixes/);
  });
});

describe("sentimentPrefixes", () => {
  it("cuts a sentence just before its first valenced word after the minimum context", () => {
    // "good" (+3) is the first AFINN word with 3 words before it; "Happy" (+3) comes too early.
    expect(cutBeforeSentimentWord("Happy are we, the good people of here", 3)).toBe("Happy are we, the");
    expect(cutBeforeSentimentWord("We do not like this at all", 3)).toBe("We do not");
    expect(cutBeforeSentimentWord("The table and the chair stood there", 3)).toBeNull();
  });

  it("gives distinct, short, printable prefixes whose next corpus word is valenced; train and eval are disjoint", () => {
    const train = sentimentPrefixes(2000, "train", { seed: 2 });
    const evalSet = sentimentPrefixes(300, "eval", { seed: 2 });
    expect(new Set(train).size).toBe(2000);
    expect(new Set(evalSet).size).toBe(300);
    const trainSet = new Set(sentimentPrefixes(20_000, "train", { seed: 2 }));
    for (const p of evalSet) expect(trainSet.has(p)).toBe(false);
    for (const p of [...train.slice(0, 200), ...evalSet]) {
      expect(p.length).toBeLessThanOrEqual(64);
      expect(p).toMatch(/^[A-Z][\x20-\x7e]*$/);
      expect(p.split(" ").length).toBeGreaterThanOrEqual(3);
    }
    expect(sentimentPrefixes(50, "eval", { seed: 2 })).toEqual(evalSet.slice(0, 50));
    expect(sentimentPrefixes(50, "eval", { seed: 3 })).not.toEqual(evalSet.slice(0, 50));
  });

  it("refuses to invent prompts the corpora do not have", () => {
    expect(() => sentimentPrefixes(1_000_000, "eval")).toThrow(/only \d+ distinct eval prefixes/);
  });
});

describe("ratingsFromVotes", () => {
  it("rates versions from battles between different versions only, the better one above with separated intervals", () => {
    const votes: ArenaVote[] = [];
    const at = new Date(0);
    for (let i = 0; i < 200; i++) {
      const v1Wins = i % 5 !== 0; // v1 wins 80%
      const v1Left = i % 2 === 0;
      votes.push({ versionA: v1Left ? "v1" : "v0", versionB: v1Left ? "v0" : "v1", choice: v1Wins === v1Left ? "A" : "B", at });
      // Self-battles (the DPO data) would say v0 is great if they counted.
      votes.push({ versionA: "v0", versionB: "v0", choice: "A", at });
    }
    const r = ratingsFromVotes(votes, { seed: 1 });
    expect(Object.keys(r).sort()).toEqual(["v0", "v1"]);
    expect(r.v1.battles).toBe(200);
    expect(r.v1.rating).toBeGreaterThan(r.v0.rating);
    // 80% wins is 400·log10(4) ≈ 241 rating points apart.
    expect(r.v1.rating - r.v0.rating).toBeGreaterThan(200);
    expect(r.v1.rating - r.v0.rating).toBeLessThan(280);
    expect(r.v1.ci[0]).toBeGreaterThan(r.v0.ci[1]);
  });

  it("returns nothing when no two versions met", () => {
    expect(ratingsFromVotes([{ versionA: "v0", versionB: "v0", choice: "TIE", at: new Date() }])).toEqual({});
  });
});

describe("summarize", () => {
  it("checks a strictly monotonic rise and measures it in v0 standard deviations", () => {
    const s = summarize([version("v0", 0.1, { rewardStd: 0.8 }), version("v1", 0.3), version("v2", 0.6)]);
    expect(s).toMatchObject({ promotedRounds: 2, monotonic: true, lastVersion: "v2", reachedHalfStd: true });
    expect(s.riseInV0Std as number).toBeCloseTo(0.625, 10);
    const dip = summarize([version("v0", 0.1), version("v1", 0.3), version("v2", 0.25)]);
    expect(dip).toMatchObject({ monotonic: false, reachedHalfStd: false });
  });

  it("compares rating intervals of the last version and v0", () => {
    const s = summarize([version("v0", 0, { ratingCi: [950, 990] }), version("v1", 1, { ratingCi: [1000, 1050] })]);
    expect(s.lastAboveV0NonOverlappingCI).toBe(true);
    const o = summarize([version("v0", 0, { ratingCi: [950, 1010] }), version("v1", 1, { ratingCi: [1000, 1050] })]);
    expect(o.lastAboveV0NonOverlappingCI).toBe(false);
  });
});

describe("writeReport", () => {
  it("writes the documented keys and an offline page that escapes what it shows", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "dpo-sim-report-"));
    try {
      const files = await writeReport(dir, {
        versions: [version("v0", 0.1), version("v1</script><b>", 0.4, { heldoutAccuracy: 0.75, rating: 1010, ratingCi: [990, 1030] })],
        rounds: [],
        summary: { note: "<i>x</i>" },
        config: {},
        labelers: [],
      });
      const json = JSON.parse(await readFile(files.json, "utf8"));
      expect(Object.keys(json.versions[1])).toEqual(expect.arrayContaining(["name", "meanReward", "rewardStd", "kl", "heldoutAccuracy", "rating"]));
      expect(json.versions[1]).toMatchObject({ heldoutAccuracy: 0.75, rating: 1010 });
      const html = await readFile(files.html, "utf8");
      expect(html).not.toContain("</script><b>");
      expect(html).not.toContain("<i>x</i>");
      expect((await readFile(path.join(dir, "chart.umd.js"), "utf8")).length).toBeGreaterThan(10_000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
