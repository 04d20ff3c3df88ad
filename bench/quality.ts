// Labeler-quality benchmark: fit time and the accuracy of recovered skills at the scale
// (100k votes, 100 labelers; target < 1 s per fit). Prints JSON lines; asserts nothing.
import { loadavg } from "node:os";
import { MaceModel, type QualityFit } from "../src/quality/index.ts";
import { type SyntheticData, type SyntheticOptions, spearman, syntheticVotes } from "../src/quality/synthetic.ts";

const LABELERS = Number(process.env.QUALITY_BENCH_LABELERS ?? 100);
const VOTES = Number(process.env.QUALITY_BENCH_VOTES ?? 100_000);

function accuracy(data: SyntheticData, fit: QualityFit) {
  const est = new Map(fit.labelers.map((l) => [l.labeler, l]));
  const bad = data.labelers.filter((l) => l.kind !== "careful");
  const hits = data.labelers.filter((l) => est.get(l.id)!.flag === "chance");
  const caught = hits.filter((l) => l.kind !== "careful").length;
  const trueOverall =
    data.labelers.reduce((s, l) => s + l.trueFlipRate * est.get(l.id)!.decisiveVotes, 0) / Math.max(1, fit.flipRate.decisiveVotes);
  return {
    spearmanFlipRate: Number(
      spearman(
        data.labelers.map((l) => l.trueFlipRate),
        data.labelers.map((l) => est.get(l.id)!.flipRate.estimate),
      ).toFixed(3),
    ),
    flagRecall: bad.length ? Number((caught / bad.length).toFixed(3)) : null,
    flagPrecision: hits.length ? Number((caught / hits.length).toFixed(3)) : null,
    flipRate: Number(fit.flipRate.estimate.toFixed(4)),
    trueFlipRate: Number(trueOverall.toFixed(4)),
  };
}

/** Wall time and this process's CPU time: on a shared machine the CPU time is the steadier number. */
function timed<T>(f: () => T): { value: T; ms: number; cpuMs: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = f();
  const c = process.cpuUsage(c0);
  return { value, ms: Number((performance.now() - t0).toFixed(1)), cpuMs: Number(((c.user + c.system) / 1000).toFixed(1)) };
}

const cases: { name: string; options: SyntheticOptions }[] = [
  {
    name: "overlap 2, 20% random, Bradley–Terry noise",
    options: {
      labelers: LABELERS,
      votesPerLabeler: VOTES / LABELERS,
      overlap: 2,
      randomFraction: 0.2,
      temperature: 0.5,
      temperatureSpread: 0.5,
      tieThreshold: 0.1,
      seed: 1,
    },
  },
  {
    name: "overlap 2, 10% random + 10% always-A, uniform noise",
    options: {
      labelers: LABELERS,
      votesPerLabeler: VOTES / LABELERS,
      overlap: 2,
      randomFraction: 0.1,
      alwaysAFraction: 0.1,
      noise: "uniform",
      seed: 2,
    },
  },
  {
    name: "no overlap, 5% gold, 20% random",
    options: {
      labelers: LABELERS,
      votesPerLabeler: VOTES / LABELERS,
      overlap: 1,
      randomFraction: 0.2,
      temperature: 0.5,
      temperatureSpread: 0.5,
      goldShare: 0.05,
      seed: 3,
    },
  },
];

const model = new MaceModel();
// Warm up the JIT on a small fit so the first case is not charged for compilation.
model.fit(syntheticVotes({ labelers: 10, votesPerLabeler: 100, overlap: 2, seed: 0 }).votes);

for (const c of cases) {
  const data = syntheticVotes(c.options);
  const cold = timed(() => model.fit(data.votes, { gold: data.gold }));
  console.log(
    JSON.stringify({
      bench: "quality",
      case: c.name,
      fit: "cold",
      votes: data.votes.length,
      labelers: LABELERS,
      ms: cold.ms,
      cpuMs: cold.cpuMs,
      iterations: cold.value.iterations,
      converged: cold.value.converged,
      ...accuracy(data, cold.value),
      loadavg: loadavg()[0]!.toFixed(2),
    }),
  );
  // Re-estimation after a round: the state of a fit on the first 90% of the votes.
  const earlier = model.fit(data.votes.slice(0, Math.floor(data.votes.length * 0.9)), { gold: data.gold });
  const warm = timed(() => model.fit(data.votes, { gold: data.gold, warmStart: earlier.state }));
  console.log(
    JSON.stringify({
      bench: "quality",
      case: c.name,
      fit: "warm (+10% votes)",
      votes: data.votes.length,
      labelers: LABELERS,
      ms: warm.ms,
      cpuMs: warm.cpuMs,
      iterations: warm.value.iterations,
      converged: warm.value.converged,
      ...accuracy(data, warm.value),
      loadavg: loadavg()[0]!.toFixed(2),
    }),
  );
}
