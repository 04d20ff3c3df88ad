// The training half of scripts/sim-quality.ts: does `dpo.labelerWeighting` help, on a task where
// clean DPO learns? The house model cannot show it (its rounds are rejected even with clean
// labelers, docs/sim/RESULTS.md), so the pairs are src/dpo/testdata.ts's marker pairs on a tiny
// GPT (the model of src/dpo/round.test.ts), and the labelers judge them through the arena's vote
// stream (src/sim/vote-stream.ts) with real battles behind them:
//
// - each pool item of the stream is one marker pair; the stream draws a bank battle for it, and
//   the marker's side is the bank battle's better side, so the labelers (the sim's `judge` on
//   the real texts) err where the sim's labelers err, and "always the longer" is as right or
//   wrong as the real texts' lengths make it; a battle with no true preference (a tie or both
//   degenerate) becomes a pair without the marker on either side (two anagrams), so a careless
//   vote on it trains noise, as in the arena;
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
import { byteTokenizer, GPT, type GPTConfig, initBackend, makeRng } from "../src/lm/index.ts";
import { MaceModel } from "../src/quality/index.ts";
import { type CarelessKind, createLabelerPool } from "../src/sim/labeler.ts";
import { pickGold, readBank, truthOf, voteStream } from "../src/sim/vote-stream.ts";
import type { QualityOptions } from "./sim-quality.ts";

const emit = (x: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(x)}\n`);

type Mode = "off" | "weight" | "exclude";

/**
 * `count` distinct random 4-letter marker words. With one marker (testdata's "good") any nudge
 * in the right direction ranks every held-out pair right, so accuracy saturates at 1 whatever
 * the labels; with many, each marker is learned from its own few votes, and held-out accuracy
 * measures how many the (weighted) votes got right.
 */
function markerWords(count: number, seed: number): string[] {
  const rand = makeRng(seed * 31 + 5);
  const words = new Set<string>();
  while (words.size < count) words.add(Array.from({ length: 4 }, () => "abcdefghijklmnopqrstuvwxyz"[Math.floor(rand() * 26)]).join(""));
  return [...words];
}

/** Pair i has marker words[i mod count] (testdata's generator, one pair per call). */
function manyMarkerPairs(words: readonly string[], n: number, seed: number): Pair[] {
  const tok = byteTokenizer();
  return Array.from({ length: n }, (_, i) => markerPairs(tok, { n: 1, seed: seed * 7 + i, marker: words[i % words.length] })[0]!);
}

/**
 * A pair with no preference (a vote on a battle whose true answer is a tie or both bad): the
 * marker pair's rejected side against another anagram of the marker in the same place, so it
 * says nothing about the marker either way, as such a vote says nothing about the reward.
 */
function neutral(m: Pair): Pair {
  const tok = byteTokenizer();
  const chosen = tok.decode(m.chosenIds).split(" ");
  const rejected = tok.decode(m.rejectedIds).split(" ");
  const at = chosen.findIndex((w, i) => w !== rejected[i]);
  const marker = chosen[at]!;
  const used = rejected[at]!;
  const other = [...permutations(marker)].find((w) => w !== marker && w !== used) ?? used;
  const second = rejected.map((w, i) => (i === at ? other : w)).join(" ");
  return { promptIds: m.promptIds, chosenIds: m.rejectedIds, rejectedIds: tok.encode(second) };
}

function* permutations(w: string): Generator<string> {
  if (w.length <= 1) {
    yield w;
    return;
  }
  for (let i = 0; i < w.length; i++) for (const rest of permutations(w.slice(0, i) + w.slice(i + 1))) yield w[i] + rest;
}

export async function runTrainExperiment(o: QualityOptions): Promise<void> {
  const loadNow = () => loadavg().map((x) => Math.round(x * 100) / 100);
  await initBackend("wasm");
  const bank = readBank(o.bank);
  const tie = o["tie-threshold"];
  const tok = byteTokenizer();
  const config: GPTConfig = { vocabSize: tok.vocabSize, nPositions: 48, nEmbd: 32, nLayer: 2, nHead: 2, layerNormEpsilon: 1e-5 };
  const minConfidence = loopConfigSchema.parse({}).dpo.minVoteConfidence;
  const truths = bank.map((p) => truthOf(p.a, p.b, tie));
  const kinds = [
    "clean",
    ...o.kinds
      .split(",")
      .map((k) => k.trim())
      .filter(Boolean),
  ] as ("clean" | CarelessKind)[];
  const results: { seed: number; kind: string; mode: Mode; accuracy: number }[] = [];

  for (let seed = o["first-seed"]; seed < o["first-seed"] + o.seeds; seed++) {
    const words = markerWords(o.markers, seed);
    const heldout = manyMarkerPairs(words, o["train-heldout"], 1_000_000 + seed);
    const gold = pickGold(bank, o["gold-pairs"], tie, seed);
    const goldSet = new Set(gold);
    const pool = bank.map((_, i) => i).filter((i) => !goldSet.has(i));
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
      const markers = manyMarkerPairs(words, items, 10_000 * seed + 1);
      // One pair per decisive vote on a pool item, chosen = the side the labeler clicked.
      const voted = votes.flatMap((v, k) => {
        if (v.gold || (v.answer !== "A" && v.answer !== "B")) return [];
        const m = markers[Number(v.item.slice("pool:".length))]!;
        const decisive = v.truth === "A" || v.truth === "B";
        const right = v.answer === v.truth;
        const pair: Pair = !decisive ? neutral(m) : right ? m : { ...m, chosenIds: m.rejectedIds, rejectedIds: m.chosenIds };
        return [{ pair: { ...pair, cluster: v.item }, right: decisive ? right : null, confidence: fit.voteCorrect[k]! }];
      });
      // Every mode on the clean run too: a default must not cost an arena without careless labelers.
      const modes: Mode[] = ["off", "weight", "exclude"];
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
        const wrong = kept.filter((p) => p.right === false);
        const noPreference = kept.filter((p) => p.right === null);
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
          noPreferenceShare: kept.length ? noPreference.length / kept.length : null,
          noPreferenceWeightShare: kept.length ? mass(noPreference) / mass(kept) : null,
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
  for (const kind of kinds) {
    for (const mode of ["off", "weight", "exclude"] as Mode[]) {
      const rows = results.filter((r) => r.kind === kind && r.mode === mode);
      const ratios = rows.map((r) => {
        const clean = results.find((c) => c.seed === r.seed && c.kind === "clean" && c.mode === "off")!.accuracy;
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
        cleanAccuracy: mean(results.filter((r) => r.kind === "clean" && r.mode === "off").map((r) => r.accuracy)),
        gainRatio: { mean: mean(ratios), min: Math.min(...ratios), max: Math.max(...ratios) },
        loadavg: loadNow(),
      });
    }
  }
}
