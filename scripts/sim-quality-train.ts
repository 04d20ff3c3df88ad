// The training half of scripts/sim-quality.ts: does `dpo.labelerWeighting` help, on a task where
// clean DPO learns? The house model cannot show it (its rounds are rejected even with clean
// labelers, docs/sim/RESULTS.md), so the pairs are src/dpo/testdata.ts's marker pairs on a tiny
// GPT (the model of src/dpo/round.test.ts), and the labelers judge them through the arena's vote
// stream (src/sim/vote-stream.ts) with real battles behind them:
//
// - each pool item of the stream is one marker pair; the stream draws a decisive bank battle
//   for it, and the marker's side is the bank battle's better side, so the labelers (the sim's
//   `judge` on the real texts) err where the sim's labelers err, and "always the longer" is as
//   right or wrong as the real texts' lengths make it;
// - every decisive vote on a pool item becomes a training pair (gold votes never do), labelled
//   as voted; the product's reliability model (src/quality) is fitted on all votes and gold
//   answers, and `weight` / `exclude` use its voteCorrect exactly as rounds/prepare.ts does;
// - the product's round code (src/dpo runRound) trains a fresh copy of the same tiny GPT per
//   mode; held-out accuracy is measured on separate marker pairs against the TRUE preference,
//   once, on the last weights (one look at the end, so the truth never picks a checkpoint).
//
// "clean" is the same seed with no careless labelers (the clean run); gain ratio =
// (accuracy − 0.5) / (clean accuracy − 0.5).
import { loadavg } from "node:os";
import { loopConfigSchema } from "../src/dpo/config.ts";
import { type Pair, runRound } from "../src/dpo/index.ts";
import { markerPairs } from "../src/dpo/testdata.ts";
import { byteTokenizer, GPT, type GPTConfig, initBackend } from "../src/lm/index.ts";
import { MaceModel } from "../src/quality/index.ts";
import { type CarelessKind, createLabelerPool } from "../src/sim/labeler.ts";
import { pickGold, readBank, truthOf, voteStream } from "../src/sim/vote-stream.ts";
import type { QualityOptions } from "./sim-quality.ts";

const emit = (x: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(x)}\n`);

type Mode = "off" | "weight" | "exclude";

export async function runTrainExperiment(o: QualityOptions): Promise<void> {
  const loadNow = () => loadavg().map((x) => Math.round(x * 100) / 100);
  await initBackend("wasm");
  const bank = readBank(o.bank);
  const tie = o["tie-threshold"];
  const tok = byteTokenizer();
  const config: GPTConfig = { vocabSize: tok.vocabSize, nPositions: 48, nEmbd: 32, nLayer: 2, nHead: 2, layerNormEpsilon: 1e-5 };
  const minConfidence = loopConfigSchema.parse({}).dpo.minVoteConfidence;
  const truths = bank.map((p) => truthOf(p.a, p.b, tie));
  const kinds = ["clean", ...o.kinds.split(",").map((k) => k.trim())] as ("clean" | CarelessKind)[];
  const results: { seed: number; kind: string; mode: Mode; accuracy: number }[] = [];

  for (let seed = 1; seed <= o.seeds; seed++) {
    const heldout = markerPairs(tok, { n: o["train-heldout"], seed: 1_000_000 + seed });
    const gold = pickGold(bank, o["gold-pairs"], tie, seed);
    const goldSet = new Set(gold);
    const pool = bank.map((_, i) => i).filter((i) => !goldSet.has(i) && (truths[i] === "A" || truths[i] === "B"));
    for (const kind of kinds) {
      const profiles = createLabelerPool({
        count: o["train-labelers"],
        carelessFraction: kind === "clean" ? 0 : o.careless,
        carelessKind: kind === "clean" ? undefined : kind,
        temperature: o["bt-temperature"],
        tieThreshold: tie,
        seed,
      });
      const votes = voteStream({
        bank,
        labelers: profiles,
        votesPerLabeler: o["train-votes"],
        goldRate: o["gold-rate"],
        goldPairs: gold,
        agreementShare: o["agreement-share"],
        preferUncertain: o["prefer-uncertain"] === "true",
        poolIndices: pool,
        tieThreshold: tie,
        seed,
      });
      const goldAnswers = gold.map((g) => ({ item: `gold:${g}`, answer: truths[g] as "A" | "B" }));
      const fit = new MaceModel().fit(
        votes.map((v) => ({ labeler: `l${v.labeler}`, item: v.item, answer: v.answer })),
        { gold: goldAnswers },
      );
      const items = votes.reduce((m, v) => (v.gold ? m : Math.max(m, Number(v.item.slice("pool:".length)) + 1)), 0);
      const markers = markerPairs(tok, { n: items, seed: 10_000 * seed + 1 });
      // One pair per decisive vote on a pool item, chosen = the side the labeler clicked.
      const voted = votes.flatMap((v, k) => {
        if (v.gold || (v.answer !== "A" && v.answer !== "B")) return [];
        const m = markers[Number(v.item.slice("pool:".length))]!;
        const right = v.answer === v.truth;
        const pair: Pair = right ? m : { ...m, chosenIds: m.rejectedIds, rejectedIds: m.chosenIds };
        return [{ pair: { ...pair, cluster: v.item }, right, confidence: fit.voteCorrect[k]! }];
      });
      const modes: Mode[] = kind === "clean" ? ["off"] : ["off", "weight", "exclude"];
      for (const mode of modes) {
        const kept = mode === "exclude" ? voted.filter((p) => p.confidence >= minConfidence) : voted;
        const pairs = kept.map((p) => (mode === "weight" ? { ...p.pair, weight: p.confidence } : p.pair));
        const policy = GPT.create(config, 11 + seed);
        const t0 = Date.now();
        const r = await runRound({
          policy,
          pairs,
          heldout,
          config: {
            beta: 0.1,
            lr: o.lr,
            batchSize: 8,
            epochs: o.epochs,
            seed: 7 + seed,
            warmupSteps: 2,
            patience: 0,
            evalEverySteps: 100_000,
            gates: { minHeldoutPairs: 1, klBudget: null, rootKlBudget: null },
          },
        });
        const accuracy = r.heldout!.accuracy;
        results.push({ seed, kind, mode, accuracy });
        const wrong = kept.filter((p) => !p.right);
        const mass = (xs: typeof kept) => xs.reduce((s, p) => s + (mode === "weight" ? p.confidence : 1), 0);
        emit({
          experiment: "train",
          seed,
          kind,
          mode,
          labelers: o["train-labelers"],
          votesPerLabeler: o["train-votes"],
          votes: votes.length,
          pairs: pairs.length,
          wrongShare: kept.length ? wrong.length / kept.length : null,
          wrongWeightShare: kept.length ? mass(wrong) / mass(kept) : null,
          heldoutAccuracy: accuracy,
          heldoutLogpAccuracy: r.heldout!.logpAccuracy,
          steps: r.steps.length,
          seconds: (Date.now() - t0) / 1000,
          loadavg: loadNow(),
        });
        r.model.dispose();
        policy.dispose();
      }
    }
  }
  for (const kind of kinds.filter((k) => k !== "clean")) {
    for (const mode of ["off", "weight", "exclude"] as Mode[]) {
      const rows = results.filter((r) => r.kind === kind && r.mode === mode);
      const ratios = rows.map((r) => {
        const clean = results.find((c) => c.seed === r.seed && c.kind === "clean")!.accuracy;
        return (r.accuracy - 0.5) / (clean - 0.5);
      });
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      emit({
        experiment: "train-summary",
        kind,
        mode,
        seeds: rows.length,
        accuracy: {
          mean: mean(rows.map((r) => r.accuracy)),
          min: Math.min(...rows.map((r) => r.accuracy)),
          max: Math.max(...rows.map((r) => r.accuracy)),
        },
        cleanAccuracy: mean(results.filter((r) => r.kind === "clean").map((r) => r.accuracy)),
        gainRatio: { mean: mean(ratios), min: Math.min(...ratios), max: Math.max(...ratios) },
        loadavg: loadNow(),
      });
    }
  }
}
