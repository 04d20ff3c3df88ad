// The sim's pieces that need no running product: extra prompts, ratings from arena votes, the
// acceptance summary and the report files.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { type ArenaVote, ratingsFromVotes } from "../../src/sim/evaluate.ts";
import { roundGates } from "../../src/sim/product/rounds.ts";
import { loopPatch, pairsUsed, rootKlBudgetOf, roundBeta } from "../../src/sim/product/settings-names.ts";
import { planPrompts } from "../../src/sim/prompt-plan.ts";
import { bookPrefixes } from "../../src/sim/prompts.ts";
import { type ReportVersion, SVG_FILE, writeReport } from "../../src/sim/report.ts";
import { cutBeforeSentimentWord, cutsBeforeSentimentWords, sentimentPrefixes } from "../../src/sim/sentiment-prompts.ts";
import { aggregateSeeds, summarize } from "../../src/sim/summary.ts";

function version(name: string, meanReward: number, extra: Partial<ReportVersion> = {}): ReportVersion {
  return {
    name,
    meanReward,
    rewardStd: 1,
    rewardStderr: 0.1,
    meanRewardT1: meanReward - 0.1,
    rewardStdT1: 1,
    meanSummedReward: meanReward + 0.2,
    repetitionRate: 0.01,
    repeatedWordShare: 0.05,
    degenerateShare: 0,
    klFromRoot: 0,
    klFromRootStderr: 0,
    klMonteCarlo: 0,
    klMonteCarloStderr: 0,
    kl: 0,
    klStderr: 0,
    heldoutCorpusLoss: 1.48,
    heldoutAccuracy: null,
    examples: [],
    rating: null,
    ratingCi: null,
    ratingBattles: 0,
    samples: 10,
    nonZeroShare: 0.5,
    status: "RETIRED",
    ...extra,
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

describe("planPrompts", () => {
  it("holds a reserve back for the rating phase, disjoint from the training prompts", () => {
    const p = planPrompts({ set: "sentiment", training: 500, reserve: 200, seed: 3 });
    expect(p.training).toHaveLength(500);
    expect(p.reserve).toHaveLength(200);
    const train = new Set(p.training);
    expect(p.reserve.some((x) => train.has(x))).toBe(false);
  });

  it("by default imports every prefix the corpus has less the reserve, and says so when asked for more", () => {
    const all = sentimentPrefixes("all", "train", { seed: 1 }).length;
    // every cut of a sentence, not only the first: more than the 25,633 that made the default run fail
    expect(all).toBeGreaterThan(33_000);
    const p = planPrompts({ set: "sentiment", training: "all", reserve: 3000, seed: 1 });
    expect(p.training.length + p.reserve.length).toBe(all);
    expect(() => planPrompts({ set: "sentiment", training: all, reserve: 1, seed: 1 })).toThrow(/do not fit/);
  });
});

describe("product settings and round records (read tolerantly)", () => {
  it("reads β where the round stores it (config.dpo.beta), and older shapes", () => {
    expect(roundBeta({ dpo: { beta: 0.25 }, gates: {} }, null)).toBe(0.25);
    expect(roundBeta({ beta: 0.3 }, null)).toBe(0.3);
    expect(roundBeta(null, { config: { beta: 0.4 } })).toBe(0.4);
    expect(roundBeta({}, {})).toBeNull();
  });

  it("reads pairs by origin from columns or the summary, null when absent", () => {
    expect(pairsUsed({ pairsTrain: 800, pairsHeldout: 200 })).toEqual({
      train: 800,
      heldout: 200,
      new: null,
      returned: null,
      versus: null,
    });
    expect(pairsUsed({ pairsTrain: 800, pairsHeldout: 200, summary: { pairs: { new: 700, returned: 60, versus: 40 } } })).toMatchObject({
      new: 700,
      returned: 60,
      versus: 40,
    });
    expect(pairsUsed({ pairsNew: 5, pairsReturned: 0, pairsVersus: 1 })).toMatchObject({ new: 5, returned: 0, versus: 1 });
  });

  it("reads the root KL budget from the loop settings, null when the product has none", () => {
    expect(rootKlBudgetOf({ gates: { klBudget: 8, rootKlBudget: 12 } })).toBe(12);
    expect(rootKlBudgetOf({ gates: { klBudget: 8 } })).toBeNull();
    expect(rootKlBudgetOf(null)).toBeNull();
  });

  it("builds settings patches from the sim's knobs; raw --set values win", () => {
    expect(
      loopPatch({ autoTrain: true, votesPerRound: 8, beta: 0.5 }, { dpo: { beta: 0.2, epochs: 1 }, gates: { klBudget: null } }),
    ).toEqual({
      schedule: { autoTrain: true, minNewPairs: 8 },
      dpo: { beta: 0.2, epochs: 1 },
      gates: { klBudget: null },
    });
    expect(loopPatch({ autoTrain: false })).toEqual({ schedule: { autoTrain: false } });
  });

  it("keeps every gate's numbers", () => {
    const g = roundGates([{ name: "kl", passed: false, value: 9.1, threshold: 8, detail: "KL 9.1 > 8", pValue: 0.03 }, null, "x"]);
    expect(g).toEqual([{ name: "kl", passed: false, value: 9.1, threshold: 8, detail: "KL 9.1 > 8", extra: { pValue: 0.03 } }]);
    expect(roundGates(undefined)).toEqual([]);
  });
});

describe("sentimentPrefixes", () => {
  it("cuts a sentence before every valenced word after the minimum context", () => {
    expect(cutsBeforeSentimentWords("Happy are we, the good people of a free land", 3)).toEqual([
      "Happy are we, the",
      "Happy are we, the good people of a",
    ]);
    expect(cutsBeforeSentimentWords("The table and the chair stood there", 3)).toEqual([]);
  });

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
  it("reports drift, fluency and vote efficiency against v0 and the root budget", () => {
    const s = summarize(
      [
        version("v0", 0.2, { rewardStd: 1, repetitionRate: 0.02, heldoutCorpusLoss: 1.5 }),
        version("v1", 0.8, { klFromRoot: 9, kl: 9, repetitionRate: 0.05, heldoutCorpusLoss: 1.6 }),
      ],
      { decisiveVotes: 3000, votesUntilFirstPromotion: 1100, rootKlBudget: 12 },
    );
    expect(s).toMatchObject({
      lastKlFromRoot: 9,
      rootKlBudget: 12,
      withinRootKlBudget: true,
      votesUntilFirstPromotion: 1100,
      repetitionWithin2xOfV0: false,
      corpusLossWithin10PctOfV0: true,
    });
    expect(s.gainPer1000DecisiveVotes as number).toBeCloseTo(0.2, 12);
    expect(summarize([version("v0", 0), version("v1", 1, { klFromRoot: 13 })], { rootKlBudget: 12 }).withinRootKlBudget).toBe(false);
    expect(summarize([version("v0", 0), version("v1", 1)], {})).toMatchObject({
      rootKlBudget: null,
      withinRootKlBudget: null,
      gainPer1000DecisiveVotes: null,
    });
  });

  it("aggregates seeds as mean ± s.e., booleans as shares", () => {
    const a = aggregateSeeds([
      { rise: 1, ok: true, name: "v2" },
      { rise: 2, ok: false },
      { rise: 3, ok: true },
    ]);
    expect(a.rise.mean).toBeCloseTo(2, 12);
    expect(a.rise.se!).toBeCloseTo(1 / Math.sqrt(3), 12);
    expect(a.ok.mean).toBeCloseTo(2 / 3, 12);
    expect(a.name).toBeUndefined();
    expect(aggregateSeeds([{ rise: 1 }]).rise.se).toBeNull();
  });

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
  it("with --seeds: every seed's versions, the mean ± s.e. over seeds, one curve per seed in the SVG", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "dpo-sim-seeds-"));
    try {
      const runs = [1, 2, 3].map((seed) => {
        const versions = [version("v0", 0.2), version("v1", 0.2 + 0.1 * seed, { klFromRoot: 2 * seed, kl: 2 * seed })];
        return {
          seed,
          versions,
          rounds: [],
          summary: summarize(versions, { decisiveVotes: 1000, votesUntilFirstPromotion: 500 * seed, rootKlBudget: 12 }),
        };
      });
      const files = await writeReport(dir, {
        versions: runs[0].versions,
        rounds: [],
        seeds: runs,
        aggregate: aggregateSeeds(runs.map((r) => r.summary)),
        summary: runs[0].summary,
        config: { rootKlBudget: 12 },
        labelers: [],
      });
      const json = JSON.parse(await readFile(files.json, "utf8"));
      expect(json.seeds).toHaveLength(3);
      expect(json.aggregate.votesUntilFirstPromotion.mean).toBeCloseTo(1000, 9);
      expect(json.aggregate.lastKlFromRoot.se).toBeCloseTo(2 / Math.sqrt(3), 9);
      const svg = await readFile(files.svg, "utf8");
      for (const seed of [1, 2, 3]) expect(svg).toContain(`seed ${seed}`);
      expect((svg.match(/<polyline/g) ?? []).length).toBe(3);
      expect(await readFile(files.html, "utf8")).toContain("Over 3 seeds");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("writes the documented keys and an offline page that escapes what it shows", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "dpo-sim-report-"));
    try {
      const files = await writeReport(dir, {
        versions: [version("v0", 0.1), version("v1</script><b>", 0.4, { heldoutAccuracy: 0.75, rating: 1010, ratingCi: [990, 1030] })],
        rounds: [],
        summary: { note: "<i>x</i>" },
        config: { rootKlBudget: 12 },
        labelers: [],
      });
      const json = JSON.parse(await readFile(files.json, "utf8"));
      const documented = [
        "name",
        "meanReward",
        "rewardStd",
        "klFromRoot",
        "repetitionRate",
        "heldoutCorpusLoss",
        "meanRewardT1",
        "kl",
        "heldoutAccuracy",
        "rating",
      ];
      for (const v of json.versions) expect(Object.keys(v)).toEqual(expect.arrayContaining(documented));
      expect(json.versions[1]).toMatchObject({ heldoutAccuracy: 0.75, rating: 1010, heldoutCorpusLoss: 1.48 });
      expect(json.config.rootKlBudget).toBe(12);
      const svg = await readFile(files.svg, "utf8");
      expect(path.basename(files.svg)).toBe(SVG_FILE);
      expect(svg).toMatch(/^<svg /);
      expect(svg).toContain("root KL budget 12");
      expect(svg).not.toContain("</script><b>");
      const html = await readFile(files.html, "utf8");
      expect(html).not.toContain("</script><b>");
      expect(html).not.toContain("<i>x</i>");
      expect((await readFile(path.join(dir, "chart.umd.js"), "utf8")).length).toBeGreaterThan(10_000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
