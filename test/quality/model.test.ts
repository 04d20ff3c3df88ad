// The reliability model on synthetic labelers whose skills are known (the sim's decision model).
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { betaCdf, betaQuantile, MaceModel, type QualityFit, type QualityVote } from "../../src/quality/index.ts";
import { type SyntheticData, spearman, syntheticVotes } from "../../src/quality/synthetic.ts";

const byLabeler = (fit: QualityFit) => new Map(fit.labelers.map((l) => [l.labeler, l]));

function flagged(data: SyntheticData, fit: QualityFit) {
  const est = byLabeler(fit);
  const bad = data.labelers.filter((l) => l.kind !== "careful");
  const hits = data.labelers.filter((l) => est.get(l.id)!.flag === "chance");
  const truePositives = hits.filter((l) => l.kind !== "careful").length;
  return { recall: truePositives / bad.length, precision: hits.length ? truePositives / hits.length : 1, hits };
}

const overallTruth = (data: SyntheticData, fit: QualityFit) =>
  data.labelers.reduce((s, l) => s + l.trueFlipRate * byLabeler(fit).get(l.id)!.decisiveVotes, 0) / fit.flipRate.decisiveVotes;

describe("MaceModel on synthetic labelers", () => {
  it("recovers flip rates and the overall ε when errors are independent of the pair (the model's assumption)", () => {
    const data = syntheticVotes({ labelers: 50, votesPerLabeler: 200, overlap: 2, randomFraction: 0.2, noise: "uniform", seed: 21 });
    const fit = new MaceModel().fit(data.votes);
    const est = byLabeler(fit);
    expect(
      spearman(
        data.labelers.map((l) => l.trueFlipRate),
        data.labelers.map((l) => est.get(l.id)!.flipRate.estimate),
      ),
    ).toBeGreaterThanOrEqual(0.9);
    expect(Math.abs(fit.flipRate.estimate - overallTruth(data, fit))).toBeLessThan(0.03);
    // Most labelers' true flip rate lies inside their interval.
    const covered = data.labelers.filter(
      (l) => est.get(l.id)!.flipRate.lower <= l.trueFlipRate && l.trueFlipRate <= est.get(l.id)!.flipRate.upper,
    );
    expect(covered.length / data.labelers.length).toBeGreaterThanOrEqual(0.8);
  });

  it("recovers known flip rates of Bradley–Terry labelers (rank correlation ≥ 0.9, 50 labelers × 200 votes, three per pair)", () => {
    // With two per pair the correlation ranges 0.79–0.95 over seeds: three is "enough overlap".
    for (const seed of [1, 2, 3]) {
      const data = syntheticVotes({
        labelers: 50,
        votesPerLabeler: 200,
        overlap: 3,
        randomFraction: 0.2,
        temperatureSpread: 0.8,
        tieThreshold: 0.1,
        seed,
      });
      const fit = new MaceModel().fit(data.votes);
      const est = byLabeler(fit);
      const rho = spearman(
        data.labelers.map((l) => l.trueFlipRate),
        data.labelers.map((l) => est.get(l.id)!.flipRate.estimate),
      );
      expect(rho, `seed ${seed}`).toBeGreaterThanOrEqual(0.9);
      expect(fit.converged).toBe(true);
    }
    const data = syntheticVotes({
      labelers: 50,
      votesPerLabeler: 200,
      overlap: 2,
      randomFraction: 0.2,
      temperatureSpread: 0.8,
      tieThreshold: 0.1,
      seed: 3,
    });
    const fit = new MaceModel().fit(data.votes);
    // Known bias: Bradley–Terry labelers err mostly on close pairs, together, so agreement
    // overstates their accuracy and the overall ε comes out low (0.24 against 0.30 here).
    const trueOverall = overallTruth(data, fit);
    expect(fit.flipRate.estimate).toBeLessThan(trueOverall);
    expect(trueOverall - fit.flipRate.estimate).toBeLessThan(0.1);
    expect(fit.flipRate.lower).toBeLessThanOrEqual(fit.flipRate.estimate);
    expect(fit.flipRate.upper).toBeGreaterThanOrEqual(fit.flipRate.estimate);
  });

  it("flags random clickers and not careful labelers (precision and recall ≥ 0.9 at 200 votes each)", () => {
    // The chance test's bar is 1.96 (two-sided 95%), so about one random clicker in forty is missed by design.
    const options = { labelers: 50, votesPerLabeler: 200, overlap: 2, randomFraction: 0.3, temperature: 0.5, temperatureSpread: 0.3 };
    for (const seed of [2, 3]) {
      const { recall, precision } = flagged(
        syntheticVotes({ ...options, seed }),
        new MaceModel().fit(syntheticVotes({ ...options, seed }).votes),
      );
      expect(recall, `seed ${seed}`).toBeGreaterThanOrEqual(0.9);
      expect(precision, `seed ${seed}`).toBeGreaterThanOrEqual(0.9);
    }
    const data = syntheticVotes({ ...options, seed: 1 });
    const fit = new MaceModel().fit(data.votes);
    const { recall, precision } = flagged(data, fit);
    expect(recall).toBeGreaterThanOrEqual(0.9);
    expect(precision).toBeGreaterThanOrEqual(0.9);
    const est = byLabeler(fit);
    for (const l of data.labelers) {
      const e = est.get(l.id)!;
      if (l.kind === "random") {
        expect(e.reliability.estimate).toBeLessThan(0.25);
        expect(e.aboveChance).toBeLessThan(2.5);
        expect(e.flipRate.estimate).toBeGreaterThan(0.35); // 0.5 in truth: θ is shrunk towards its prior by ~1/√n
      }
    }
    // Votes of random clickers are less likely to be right than careful labelers' votes.
    const meanCorrect = (kind: string) => {
      const ids = new Set(data.labelers.filter((l) => l.kind === kind).map((l) => l.id));
      const idx = data.votes.map((v, k) => (ids.has(v.labeler) ? k : -1)).filter((k) => k >= 0);
      return idx.reduce((s, k) => s + fit.voteCorrect[k]!, 0) / idx.length;
    };
    expect(meanCorrect("careful") - meanCorrect("random")).toBeGreaterThan(0.2);
  });

  it("identifies an always-A clicker by its habit", () => {
    const data = syntheticVotes({ labelers: 20, votesPerLabeler: 200, overlap: 2, alwaysAFraction: 0.1, seed: 7 });
    const fit = new MaceModel().fit(data.votes);
    const est = byLabeler(fit);
    for (const l of data.labelers.filter((x) => x.kind === "always-A")) {
      const e = est.get(l.id)!;
      expect(e.habit.A).toBeGreaterThan(0.9);
      expect(e.reliability.estimate).toBeLessThan(0.2);
      expect(e.flag).toBe("chance");
    }
    for (const l of data.labelers.filter((x) => x.kind === "careful")) expect(est.get(l.id)!.flag).toBeNull();
  });

  it("treats TIE and BOTH_BAD as the same 'no preference' answer, and penalises ties on clear pairs", () => {
    const data = syntheticVotes({ labelers: 20, votesPerLabeler: 200, overlap: 2, tieThreshold: 0.6, seed: 9 });
    // Half the careful labelers say "both bad" where they would say "tie".
    const bothBadPeople = new Set(data.labelers.slice(0, 10).map((l) => l.id));
    const votes: QualityVote[] = data.votes.map((v) =>
      bothBadPeople.has(v.labeler) && v.answer === "TIE" ? { ...v, answer: "BOTH_BAD" } : v,
    );
    const fit = new MaceModel().fit(votes);
    const est = byLabeler(fit);
    const mean = (ids: string[]) => ids.reduce((s, id) => s + est.get(id)!.reliability.estimate, 0) / ids.length;
    const a = [...bothBadPeople];
    const b = data.labelers.slice(10).map((l) => l.id);
    expect(Math.abs(mean(a) - mean(b))).toBeLessThan(0.1);
    expect(fit.classPrior.NONE).toBeGreaterThan(0.2);

    // A lazy labeler who answers "both bad" to everything: low reliability, habit all NONE.
    const lazy = data.votes.filter((v) => v.labeler === data.labelers[0]!.id).map((v) => ({ ...v, labeler: "lazy", item: `${v.item}` }));
    const withLazy = new MaceModel().fit([
      ...votes.filter((v) => v.labeler !== data.labelers[0]!.id),
      ...lazy.map((v) => ({ ...v, answer: "BOTH_BAD" as const })),
    ]);
    const l = byLabeler(withLazy).get("lazy")!;
    expect(l.habit.NONE).toBeGreaterThan(0.8);
    expect(l.reliability.estimate).toBeLessThan(0.5);
    expect(l.decisiveVotes).toBe(0);
  });

  it("with no overlap and no gold, falls back to the prior with a wide interval and no NaN", () => {
    const data = syntheticVotes({ labelers: 10, votesPerLabeler: 50, overlap: 1, randomFraction: 0.3, seed: 2 });
    const fit = new MaceModel().fit(data.votes);
    for (const l of fit.labelers) {
      expect(l.flag).toBe("no-evidence");
      expect(l.overlappingVotes).toBe(0);
      expect(l.informativeVotes).toBe(0);
      expect(l.evidence).toBe(0);
      expect(l.reliability.estimate).toBeCloseTo(2 / 3, 10);
      expect(l.reliability.upper - l.reliability.lower).toBeGreaterThan(0.5);
      expect(l.flipRate.upper - l.flipRate.lower).toBeGreaterThan(0.3);
      expect(l.agreement.rate).toBeNull();
      expect(l.gold.accuracy).toBeNull();
      for (const x of [l.reliability.lower, l.reliability.upper, l.flipRate.estimate, l.flipRate.lower, l.flipRate.upper])
        expect(Number.isFinite(x)).toBe(true);
    }
    expect(Number.isFinite(fit.flipRate.estimate)).toBe(true);
    expect(fit.voteCorrect.every((p) => p >= 0 && p <= 1)).toBe(true);
  });

  it("an empty vote list gives an empty, finite fit", () => {
    const fit = new MaceModel().fit([]);
    expect(fit.labelers).toEqual([]);
    expect(fit.flipRate).toEqual({ estimate: 0, lower: 0, upper: 0, decisiveVotes: 0 });
  });

  it("uses gold answers: without any overlap, gold alone finds the random clickers", () => {
    const data = syntheticVotes({
      labelers: 40,
      votesPerLabeler: 200,
      overlap: 1,
      randomFraction: 0.25,
      temperature: 0.5,
      temperatureSpread: 0.3,
      goldShare: 0.2,
      seed: 4,
    });
    const withGold = new MaceModel().fit(data.votes, { gold: data.gold });
    const without = new MaceModel().fit(data.votes);
    expect(without.labelers.every((l) => l.flag === "no-evidence")).toBe(true);
    const { recall, precision } = flagged(data, withGold);
    expect(recall).toBeGreaterThanOrEqual(0.9);
    expect(precision).toBeGreaterThanOrEqual(0.9);
    const est = byLabeler(withGold);
    for (const l of data.labelers) {
      const e = est.get(l.id)!;
      expect(e.gold.total).toBeGreaterThan(20);
      expect(e.informativeVotes).toBe(e.gold.total);
      if (l.kind === "random") expect(e.gold.accuracy!).toBeLessThan(0.7);
      else expect(e.gold.accuracy!).toBeGreaterThan(0.6);
    }
    // Gold pairs' posteriors are the gold answers, and their votes are exactly right or wrong.
    const goldItems = new Set(data.gold.map((g) => g.item));
    data.votes.forEach((v, k) => {
      if (goldItems.has(v.item)) expect([0, 1]).toContain(withGold.voteCorrect[k]);
    });
  });

  it("gold anchors a careful minority against two labelers who agree on always answering A", () => {
    const data = syntheticVotes({ labelers: 3, votesPerLabeler: 300, overlap: 3, temperature: 0.3, goldShare: 0.1, seed: 8 });
    const [careful, x, y] = data.labelers.map((l) => l.id);
    const votes = data.votes.map((v) => (v.labeler === careful ? v : { ...v, answer: "A" as const }));
    const fit = new MaceModel().fit(votes, { gold: data.gold });
    const est = byLabeler(fit);
    expect(est.get(careful!)!.reliability.estimate).toBeGreaterThan(0.5);
    expect(est.get(careful!)!.flag).toBeNull();
    for (const id of [x!, y!]) {
      expect(est.get(id)!.reliability.estimate).toBeLessThan(0.1);
      expect(est.get(id)!.flag).toBe("chance");
      expect(est.get(id)!.agreement.rate).toBeGreaterThan(0.6); // they agree with each other: raw agreement is fooled
    }
    // Without gold the model still sees through the pair (A and B are equally likely a priori),
    // but then nobody can vouch for the careful labeler.
    const blind = byLabeler(new MaceModel().fit(votes));
    expect(blind.get(x!)!.flag).toBe("chance");
    expect(blind.get(careful!)!.flag).toBe("no-evidence");
  });

  it("warm-starts: a re-fit after new votes needs fewer iterations and lands on the same answer", () => {
    const data = syntheticVotes({ labelers: 30, votesPerLabeler: 200, overlap: 2, randomFraction: 0.2, seed: 13 });
    const model = new MaceModel({ tolerance: 1e-7 });
    const early = model.fit(data.votes.slice(0, Math.floor(data.votes.length * 0.9)));
    const cold = model.fit(data.votes);
    const warm = model.fit(data.votes, { warmStart: early.state });
    expect(warm.iterations).toBeLessThan(cold.iterations);
    const c = byLabeler(cold);
    for (const l of warm.labelers) expect(Math.abs(l.reliability.estimate - c.get(l.labeler)!.reliability.estimate)).toBeLessThan(1e-3);
    // A labeler the old state never saw starts from the prior, not from garbage.
    const again = model.fit([...data.votes, { labeler: "newcomer", item: data.votes[0]!.item, answer: "A" }], { warmStart: cold.state });
    expect(byLabeler(again).get("newcomer")!.votes).toBe(1);
  });

  it("ignores a labeler's repeated vote on the same pair, and refuses unknown answers", () => {
    const votes: QualityVote[] = [
      { labeler: "a", item: "p", answer: "A" },
      { labeler: "a", item: "p", answer: "B" },
      { labeler: "b", item: "p", answer: "A" },
    ];
    const fit = new MaceModel().fit(votes);
    expect(fit.ignoredDuplicates).toBe(1);
    expect(byLabeler(fit).get("a")!.votes).toBe(1);
    expect(byLabeler(fit).get("a")!.agreement).toEqual({ agree: 1, compared: 1, rate: 1 });
    expect(() => new MaceModel().fit([{ labeler: "a", item: "p", answer: "C" as never }])).toThrow(/answer "C"/);
    expect(() => new MaceModel().fit(votes, { gold: [{ item: "p", answer: "BOTH_BAD" as never }] })).toThrow(/gold answer/);
    expect(() => new MaceModel({ level: 1.5 })).toThrow(/level/);
  });
});

describe("beta quantiles", () => {
  it("match closed forms", () => {
    for (const p of [0.025, 0.3, 0.5, 0.975]) {
      expect(betaQuantile(p, 1, 1)).toBeCloseTo(p, 8);
      expect(betaQuantile(p, 2, 1)).toBeCloseTo(Math.sqrt(p), 8);
      expect(betaQuantile(p, 1, 3)).toBeCloseTo(1 - (1 - p) ** (1 / 3), 8);
      expect(betaQuantile(p, 40, 60)).toBeCloseTo(1 - betaQuantile(1 - p, 60, 40), 8);
    }
    expect(betaCdf(0.5, 7, 7)).toBeCloseTo(0.5, 10);
  });
});

describe("src/quality is a plain library", () => {
  it("imports no Next.js, tRPC, Prisma, React or server code", () => {
    const dir = path.resolve(import.meta.dirname, "../../src/quality");
    const offenders: string[] = [];
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".ts"))) {
      const source = readFileSync(path.join(dir, file), "utf8");
      for (const m of source.matchAll(/from\s+"([^"]+)"/g)) {
        if (/^(next|@trpc|@prisma|react)|generated\/prisma|\/server\//.test(m[1]!)) offenders.push(`${file}: ${m[1]}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
