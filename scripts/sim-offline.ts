// `npm run sim` without the web: the same experiment in one process, for finding settings fast.
// Each round samples battles (two completions of one training prompt from the serving policy,
// at the arena's sampling settings), has the simulated Bradley–Terry labelers of src/sim vote on
// them, and runs the product's DPO round code (src/dpo runRound and its gates) on the decisive
// votes; a round that passes its gates becomes the serving policy. As in the product, a rejected
// round's pairs return to the pool and the held-out set persists. After every promotion the
// serving policy is measured on held-out prompts (true reward at the served settings and at
// T = 1, repetition, corpus loss, KL from v0). One JSON line per round on stdout; nothing here is
// a product path, it only calls the same libraries. `--ceiling N` trains nothing: it measures
// what any implicit reward and any policy within a KL budget could reach (src/dpo/ceiling.ts).
//
//   node --import tsx scripts/sim-offline.ts --rounds 4 --max-new-tokens 64 --seed 1
//
// long file: one experiment script whose rounds, measurements and report share the run's state;
// every product part it drives lives in src/ (dpo, sim, lm).
//   node --import tsx scripts/sim-offline.ts --ceiling 1600 --battle-cache /tmp/battles
import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { type CommandSpec, type ParsedArgs, parseOrExit } from "../src/cli/args.ts";
import { labelerCeiling, pairsForTest, tiltFrontier, tiltTestPower } from "../src/dpo/ceiling.ts";
import { loopConfigSchema } from "../src/dpo/config.ts";
import { allGatesPassed, normalQuantile, type Pair, runRound } from "../src/dpo/index.ts";
import { LOSS_TYPES, type LossType } from "../src/dpo/losses.ts";
import { type CausalLM, encodePrompt, HOUSE_MODEL_DIR, initBackend, loadCheckpoint, SampleBatcher } from "../src/lm/index.ts";
import { samplingSettingsSchema } from "../src/server/services/arena-settings/index.ts";
import { measureModel } from "../src/sim/evaluate.ts";
import { createLabelerPool, createRng, type Judgement, judge } from "../src/sim/labeler.ts";
import { bookPrefixes } from "../src/sim/prompts.ts";
import { trueReward } from "../src/sim/reward.ts";
import { sentimentPrefixes } from "../src/sim/sentiment-prompts.ts";

// The loop and sampling defaults are the product's own (read from their schemas), so this
// script tries what a fresh install would run unless a flag says otherwise.
const loop = loopConfigSchema.parse({});
const sampling = samplingSettingsSchema.parse({});

const SPEC = {
  command: "node --import tsx scripts/sim-offline.ts",
  description: `The sim's experiment in one process, without the web: each round samples battles from the serving
policy, simulated labelers vote, the product's DPO round code trains and gates; one JSON line per round.`,
  options: {
    model: { type: "string", value: "DIR", default: HOUSE_MODEL_DIR, help: "the v0 checkpoint" },
    rounds: { type: "number", integer: true, min: 1, default: 4, help: "rounds to run" },
    pairs: {
      type: "number",
      integer: true,
      min: 2,
      default: loop.schedule.minNewPairs,
      help: "decisive votes per round (training + held-out)",
    },
    lr: { type: "number", above: 0, default: loop.dpo.lr, help: "DPO learning rate" },
    epochs: { type: "number", integer: true, above: 0, default: loop.dpo.epochs, help: "DPO epochs per round" },
    beta: { type: "number", above: 0, default: loop.dpo.beta, help: "DPO β" },
    batch: { type: "number", integer: true, above: 0, default: loop.dpo.batchSize, help: "pairs per step" },
    "heldout-fraction": { type: "number", min: 0, max: 1, default: loop.dpo.heldoutFraction, help: "share of a round's pairs held out" },
    "max-new-tokens": { type: "number", integer: true, above: 0, default: sampling.maxNewTokens, help: "completion length" },
    temperature: { type: "number", min: 0, default: sampling.temperature, help: "sampling temperature" },
    "top-p": { type: "number", above: 0, max: 1, default: sampling.topP, help: "sampling top-p" },
    labelers: { type: "number", integer: true, min: 1, default: 8, help: "simulated labelers" },
    careless: { type: "number", min: 0, max: 1, default: 0, help: "fraction of careless labelers" },
    "bt-temperature": { type: "number", above: 0, default: 1, help: "labelers' Bradley–Terry temperature in reward units" },
    "tie-threshold": { type: "number", min: 0, default: 0.5, help: "|rA − rB| below this is a tie" },
    "min-heldout": { type: "number", integer: true, min: 0, default: loop.gates.minHeldoutPairs, help: "gate: held-out pairs needed" },
    confidence: { type: "number", above: 0, max: 1, default: loop.gates.confidence, help: "gate: confidence of the one-sided tests" },
    "kl-budget": {
      type: "number",
      min: 0,
      nullable: true,
      default: loop.gates.klBudget,
      help: "gate: per-round KL budget in nats (null: none)",
    },
    "root-kl-budget": {
      type: "number",
      min: 0,
      nullable: true,
      default: loop.gates.rootKlBudget,
      help: "gate: KL budget from v0 in nats (null: none)",
    },
    "eval-every": { type: "number", integer: true, min: 0, default: loop.dpo.evalEverySteps, help: "held-out evaluation every N steps" },
    patience: { type: "number", integer: true, min: 0, default: loop.dpo.patience, help: "early stopping patience (evaluations)" },
    "kl-prompts": { type: "number", integer: true, min: 0, default: loop.dpo.klPrompts, help: "prompts for the in-round KL check" },
    reference: { type: "string", choices: ["iterative", "fixed"], default: loop.dpo.reference, help: "reference model of each round" },
    prompts: { type: "string", value: "SET", choices: ["sentiment", "moby"], default: "sentiment", help: "training prompt set" },
    "eval-prompts": { type: "number", integer: true, min: 1, default: 48, help: "held-out prompts for measurement" },
    "eval-samples": { type: "number", integer: true, min: 1, default: 8, help: "samples per held-out prompt" },
    seed: { type: "number", integer: true, default: 1, help: "seed of labelers, sampling and measurement" },
    "loss-type": { type: "string", choices: LOSS_TYPES, default: loop.dpo.lossType, help: "DPO loss (src/dpo/losses.ts)" },
    "label-smoothing": { type: "number", min: 0, max: 0.49, default: loop.dpo.labelSmoothing, help: "ε of the sigmoid/robust losses" },
    "sft-weight": { type: "number", min: 0, default: loop.dpo.sftWeight, help: "weight of the chosen completion's NLL (RPO)" },
    warmup: { type: "number", integer: true, min: 0, default: loop.dpo.warmupSteps, help: "linear warmup steps" },
    "weight-decay": { type: "number", min: 0, max: 1, default: loop.dpo.weightDecay, help: "AdamW weight decay" },
    "max-pairs": { type: "number", integer: true, min: 2, default: loop.dpo.maxPairs, help: "train pairs a round uses (newest first)" },
    "max-heldout": {
      type: "number",
      integer: true,
      min: 1,
      default: loop.dpo.maxHeldoutPairs,
      help: "held-out pairs a round evaluates (newest first)",
    },
    "fresh-rounds": {
      type: "boolean",
      help: "train each round on its own votes only (default: a rejected round's pairs return to the pool, as in the product)",
    },
    "eval-max-new-tokens": {
      type: "number",
      integer: true,
      above: 0,
      nullable: true,
      default: null,
      help: "measurement length (default: --max-new-tokens)",
    },
    "corpus-windows": { type: "number", integer: true, min: 0, default: 32, help: "held-out corpus windows scored per version (0: skip)" },
    ceiling: {
      type: "number",
      integer: true,
      min: 0,
      default: 0,
      help: "sample this many battles of v0, print the labeler ceiling and the reward-vs-KL frontier, and stop (no training)",
    },
    "battle-cache": {
      type: "string",
      value: "DIR",
      default: "",
      help: "keep battles sampled from v0 here and reuse them (same seed and sampling)",
    },
  },
} as const satisfies CommandSpec;
type Options = ParsedArgs<typeof SPEC>["values"];

/** The seed file's held-out prompts: the product's KL gate samples the first few of these. */
function seedHeldOut(): string[] {
  const lines = readFileSync(path.join(import.meta.dirname, "../prisma/seed/prompts.txt"), "utf8").split(/\r?\n/);
  return lines.slice(lines.indexOf("## held-out") + 1).filter((l) => l.trim() !== "" && !l.startsWith("#"));
}

function trainPrompts(o: Options, n: number): string[] {
  if (o.prompts === "sentiment") return sentimentPrefixes(n, "train", { seed: o.seed });
  if (o.prompts === "moby") return bookPrefixes(n, { seed: o.seed });
  throw new Error(`--prompts must be sentiment or moby, got ${o.prompts}`);
}

function evalPrompts(o: Options): string[] {
  if (o.prompts === "sentiment") return sentimentPrefixes(o["eval-prompts"], "eval", { seed: o.seed });
  return seedHeldOut().slice(0, o["eval-prompts"]);
}

interface Sampled {
  ids: number[];
  text: string;
}
interface Battle {
  promptIds: number[];
  a: Sampled;
  b: Sampled;
  rA: number;
  rB: number;
  vote: Judgement | null;
  pair: (Pair & { margin: number }) | null;
}

const emit = (x: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(x)}\n`);

async function main() {
  const o = parseOrExit(SPEC).values;
  await initBackend("wasm");
  const v0 = await loadCheckpoint(o.model);
  const tok = v0.tokenizer;
  const pool = trainPrompts(o, 20_000);
  let next = 0;
  const labelers = createLabelerPool({
    count: o.labelers,
    carelessFraction: o.careless,
    temperature: o["bt-temperature"],
    tieThreshold: o["tie-threshold"],
    seed: o.seed,
  });
  const rng = createRng(o.seed * 31 + 7);
  // The reward is measured at the served settings (what labelers see), as the product sim does;
  // the served length is the measurement length unless --eval-max-new-tokens says otherwise.
  const evalOpts = {
    prompts: evalPrompts(o),
    samplesPerPrompt: o["eval-samples"],
    maxNewTokens: o["eval-max-new-tokens"] ?? o["max-new-tokens"],
    seed: o.seed + 1,
    served: { temperature: o.temperature, topP: o["top-p"] },
    corpusWindows: o["corpus-windows"],
  };
  // KL is measured, as in the product, on held-out prompts at the served length.
  const klPromptIds = evalOpts.prompts.slice(0, o["kl-prompts"]).map((p) => encodePrompt(tok, p));
  const gates = {
    minHeldoutPairs: o["min-heldout"],
    confidence: o.confidence,
    klBudget: o["kl-budget"],
    rootKlBudget: o["root-kl-budget"],
  };

  // Battles sampled from v0 are the same for every run with the same seed and sampling settings,
  // so they can be kept on disk: variants of the training settings then skip the sampling.
  const cacheFile = o["battle-cache"]
    ? path.join(o["battle-cache"], `v0-${o.prompts}-s${o.seed}-n${o["max-new-tokens"]}-t${o.temperature}-p${o["top-p"]}.jsonl`)
    : null;
  const cached = new Map<number, { a: Sampled; b: Sampled }>();
  if (cacheFile && existsSync(cacheFile)) {
    for (const line of readFileSync(cacheFile, "utf8").split("\n")) {
      if (line.trim() === "") continue;
      const r = JSON.parse(line) as { id: number; a: Sampled; b: Sampled };
      cached.set(r.id, { a: r.a, b: r.b });
    }
  }
  if (cacheFile) mkdirSync(path.dirname(cacheFile), { recursive: true });

  /** `count` battles of the serving policy, each judged by one labeler (null vote: an empty completion). */
  async function sampleBattles(model: CausalLM, count: number): Promise<Battle[]> {
    const chunk = Array.from({ length: count }, () => {
      const id = next++;
      return { id, promptIds: encodePrompt(tok, pool[id % pool.length]) };
    });
    const fromCache = model === v0.model && chunk.every((c) => cached.has(c.id));
    let outs: { a: Sampled; b: Sampled }[];
    if (fromCache) outs = chunk.map((c) => cached.get(c.id)!);
    else {
      // The battles share decode steps; each still gets exactly what sample() gives it.
      const batcher = new SampleBatcher();
      try {
        const sampled = await Promise.all(
          chunk.map(({ id, promptIds }) =>
            batcher.sample(model, tok, {
              promptIds,
              n: 2,
              temperature: o.temperature,
              topP: o["top-p"],
              maxNewTokens: o["max-new-tokens"],
              seed: o.seed * 100_003 + id + 1,
            }),
          ),
        );
        outs = sampled.map(([a, b]) => ({ a: { ids: a.ids, text: a.text }, b: { ids: b.ids, text: b.text } }));
      } finally {
        await batcher.close();
      }
      if (cacheFile && model === v0.model)
        appendFileSync(cacheFile, outs.map((x, j) => `${JSON.stringify({ id: chunk[j].id, ...x })}\n`).join(""));
    }
    return outs.map(({ a, b }, j) => {
      const { promptIds } = chunk[j];
      const rA = trueReward(a.text),
        rB = trueReward(b.text);
      if (a.ids.length === 0 || b.ids.length === 0) return { promptIds, a, b, rA, rB, vote: null, pair: null };
      // The product sim's labelers: a Bradley–Terry draw on the true reward, degenerate text loses.
      const who = labelers[Math.floor(rng.next() * labelers.length)];
      const vote = judge(a.text, b.text, who, rng).choice;
      if (vote !== "A" && vote !== "B") return { promptIds, a, b, rA, rB, vote, pair: null };
      const [w, l] = vote === "A" ? [a, b] : [b, a];
      const pair = { promptIds, chosenIds: w.ids, rejectedIds: l.ids, margin: vote === "A" ? rA - rB : rB - rA };
      return { promptIds, a, b, rA, rB, vote, pair };
    });
  }

  if (o.ceiling > 0) {
    await ceiling(o, (n) => sampleBattles(v0.model, n));
    return;
  }

  const t0 = Date.now();
  const first = await measureModel("v0", v0.model, tok, v0.model, evalOpts);
  emit({ event: "start", options: o, evalPrompts: evalOpts.prompts.length, ...first, seconds: (Date.now() - t0) / 1000 });

  let serving: CausalLM = v0.model;
  let version = 0;
  let last = first;
  const pendingTrain: (Pair & { margin: number })[] = [];
  const heldoutPool: (Pair & { margin: number })[] = [];
  for (let round = 1; round <= o.rounds; round++) {
    const tRound = Date.now();
    // Battles until enough decisive votes: one labeler per battle, as the arena assigns them.
    const pairs: (Pair & { margin: number })[] = [];
    let battles = 0,
      ties = 0,
      sampledTokens = 0;
    while (pairs.length < o.pairs) {
      for (const b of await sampleBattles(serving, 16)) {
        if (pairs.length >= o.pairs) break;
        battles++;
        sampledTokens += b.a.ids.length + b.b.ids.length;
        if (b.vote === null) continue;
        if (b.vote !== "A" && b.vote !== "B") {
          ties++;
          continue;
        }
        pairs.push(b.pair!);
      }
    }
    const sampleSeconds = (Date.now() - tRound) / 1000;
    const nHeld = Math.round(pairs.length * o["heldout-fraction"]);
    // As the product does (src/server/services/rounds): held-out votes form a persistent set (the
    // newest maxHeldoutPairs are evaluated), and the pairs of a rejected round return to the pool,
    // so the next round trains on them with the new ones (newest maxPairs first). --fresh-rounds
    // trains each round on its own votes only, as this script used to.
    if (o["fresh-rounds"]) {
      pendingTrain.length = 0;
      heldoutPool.length = 0;
    }
    heldoutPool.push(...pairs.slice(0, nHeld));
    pendingTrain.push(...pairs.slice(nHeld));
    const heldout = heldoutPool.slice(-o["max-heldout"]);
    const train = pendingTrain.slice(-o["max-pairs"]);
    const returned = train.length - (pairs.length - nHeld);
    const reference = o.reference === "fixed" ? v0.model : serving;
    const tTrain = Date.now();
    const result = await runRound({
      policy: serving,
      reference,
      root: v0.model,
      rootName: "v0",
      pairs: train.map((p) => ({ ...p, cluster: p.promptIds.join(",") })),
      heldout: heldout.map((p) => ({ ...p, cluster: p.promptIds.join(",") })),
      klPrompts: o["kl-prompts"] > 0 ? { tokenizer: tok, promptIds: klPromptIds } : undefined,
      served: { maxNewTokens: o["max-new-tokens"], temperature: o.temperature, topP: o["top-p"] },
      config: {
        beta: o.beta,
        lr: o.lr,
        epochs: o.epochs,
        batchSize: o.batch,
        seed: 1234 + round,
        evalEverySteps: o["eval-every"],
        patience: o.patience,
        lossType: o["loss-type"] as LossType,
        labelSmoothing: o["label-smoothing"],
        sftWeight: o["sft-weight"],
        warmupSteps: o.warmup,
        weightDecay: o["weight-decay"],
        gates,
      },
    });
    const trainSeconds = (Date.now() - tTrain) / 1000;
    const passed = allGatesPassed(result.gates);
    if (passed) {
      const absorbed = new Set(train);
      const left = pendingTrain.filter((p) => !absorbed.has(p));
      pendingTrain.length = 0;
      pendingTrain.push(...left);
      if (serving !== v0.model) serving.dispose();
      serving = result.model;
      version++;
    } else result.model.dispose();
    const tEval = Date.now();
    // An unchanged serving policy measures exactly as before (fixed measurement seeds).
    if (passed) last = await measureModel(`v${version}`, serving, tok, v0.model, evalOpts);
    const m = last;
    emit({
      event: "round",
      round,
      passed,
      serving: `v${version}`,
      failed: result.gates.filter((g) => !g.passed).map((g) => `${g.name} ${g.value.toFixed(3)}`),
      gates: result.gates.map((g) => ({ name: g.name, passed: g.passed, value: g.value, pValue: g.pValue })),
      battles,
      ties,
      pairsTrain: train.length,
      pairsHeldout: heldout.length,
      pairsReturned: returned,
      heldoutImprovement: result.gates.find((g) => g.name === "heldout_improvement")?.estimate,
      heldoutBound: result.gates.find((g) => g.name === "heldout_improvement")?.value,
      heldoutP: result.gates.find((g) => g.name === "heldout_improvement")?.pValue,
      // held-out pairs this round's effect would need to pass the test with 80% power
      heldoutPairsNeeded: pairsNeeded(result, o.confidence),
      checkpoints: result.checkpoints.map((c) => [
        c.step,
        +c.heldoutLoss.toFixed(4),
        +c.heldoutAccuracy.toFixed(3),
        c.klRound && +c.klRound.toFixed(2),
      ]),
      wrongWayShare: pairs.filter((p) => p.margin < 0).length / pairs.length,
      lossFirst: result.summary.first?.loss,
      lossLast: result.summary.last?.loss,
      heldoutAcc: result.heldout?.accuracy,
      heldoutLoss: result.heldout?.loss,
      heldoutLossBefore: result.heldoutBefore?.loss,
      klRound: result.klRound?.kl,
      klRoundUcb: result.klRound?.ucb,
      klRoot: result.klRoot?.kl,
      klRootUcb: result.klRoot?.ucb,
      klRootServed: result.kl?.served?.root?.kl ?? result.kl?.served?.reference?.kl,
      selectedStep: result.selectedStep,
      steps: result.steps.length,
      stoppedEarly: result.stoppedEarly,
      meanReward: m.meanReward,
      rewardStderr: m.rewardStderr,
      rewardStd: m.rewardStd,
      klV0: m.kl,
      klStderr: m.klStderr,
      nonZeroShare: m.nonZeroShare,
      meanRewardT1: m.meanRewardT1,
      repetitionRate: m.repetitionRate,
      repetitionV0: first.repetitionRate,
      heldoutCorpusLoss: m.heldoutCorpusLoss,
      corpusLossV0: first.heldoutCorpusLoss,
      rise: m.meanReward - first.meanReward,
      riseInStd: (m.meanReward - first.meanReward) / first.rewardStd,
      sampleSeconds,
      sampledTokens,
      trainSeconds,
      evalSeconds: (Date.now() - tEval) / 1000,
      totalMinutes: (Date.now() - t0) / 60_000,
      loadavg: os.loadavg(),
    });
  }
}

/** From the improvement gate's estimate and bound: the per-pair s.d., then n for 80% power. */
function pairsNeeded(result: Awaited<ReturnType<typeof runRound>>, confidence: number): number | null {
  const g = result.gates.find((x) => x.name === "heldout_improvement");
  const n = result.heldout?.n ?? 0;
  if (!g || g.estimate === undefined || !Number.isFinite(g.value) || n === 0) return null;
  const se = (g.estimate - g.value) / normalQuantile(confidence);
  return Math.round(pairsForTest(g.estimate, se * Math.sqrt(n), confidence, 0.8));
}

/**
 * The no-training question first: on `--ceiling` battles of v0, how well could ANY implicit reward
 * predict the labelers' votes, how much reward could any policy buy per nat of KL, and how many
 * held-out pairs would the gate's test need to see the best such policy?
 */
async function ceiling(o: Options, sample: (n: number) => Promise<Battle[]>) {
  const t0 = Date.now();
  const battles: Battle[] = [];
  while (battles.length < o.ceiling) battles.push(...(await sample(Math.min(64, o.ceiling - battles.length))));
  const seconds = (Date.now() - t0) / 1000;
  const rewards = battles.flatMap((b) => [b.rA, b.rB]);
  const absDiff = battles.map((b) => Math.abs(b.rA - b.rB)).sort((x, y) => x - y);
  const q = (p: number) => absDiff[Math.min(absDiff.length - 1, Math.floor(p * absDiff.length))];
  const margins = battles.flatMap((b) => (b.pair ? [b.pair.margin] : []));
  const share = (f: (b: Battle) => boolean) => battles.filter(f).length / battles.length;
  const mean = rewards.reduce((s, r) => s + r, 0) / rewards.length;
  const std = Math.sqrt(rewards.reduce((s, r) => s + (r - mean) ** 2, 0) / (rewards.length - 1));
  emit({
    event: "ceiling",
    battles: battles.length,
    seconds,
    loadavg: os.loadavg(),
    maxNewTokens: o["max-new-tokens"],
    reward: { mean, std, zeroShare: rewards.filter((r) => r === 0).length / rewards.length },
    absDiff: {
      mean: absDiff.reduce((s, d) => s + d, 0) / absDiff.length,
      zeroShare: share((b) => b.rA === b.rB),
      belowTieShare: share((b) => Math.abs(b.rA - b.rB) < o["tie-threshold"]),
      quantiles: { p25: q(0.25), p50: q(0.5), p75: q(0.75), p90: q(0.9), p99: q(0.99) },
    },
    votes: {
      decisiveShare: margins.length / battles.length,
      tieShare: share((b) => b.vote === "TIE"),
      bothBadShare: share((b) => b.vote === "BOTH_BAD"),
    },
    labelerCeiling: labelerCeiling(margins, o["bt-temperature"]),
  });
  // The KL-constrained optimum: for each tilt, the reward it buys and what the gate would see.
  const cs = [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3];
  for (const t of tiltFrontier(rewards, cs)) {
    const power = tiltTestPower(margins, o.beta, t.c, o.confidence, 0.8);
    emit({ event: "tilt", ...t, beta: o.beta, ...power, heldoutShareOfVotes: o["heldout-fraction"] });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`sim-offline failed: ${(e as Error).stack}\n`);
  process.exit(1);
});
