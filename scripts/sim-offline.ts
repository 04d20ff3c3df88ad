// `npm run sim` without the web: the same experiment in one process, for finding settings fast.
// Each round samples battles (two completions of one training prompt from the serving policy,
// at the arena's sampling settings), has the simulated Bradley–Terry labelers of src/sim vote on
// them, and runs the product's DPO round code (src/dpo runRound and its gates) on the decisive
// votes; a round that passes its gates becomes the serving policy. After every round the serving
// policy is measured on held-out prompts (true reward at temperature 1, KL from v0). One JSON
// line per round on stdout; nothing here is a product path, it only calls the same libraries.
//
//   node --import tsx scripts/sim-offline.ts --rounds 4 --pairs 1000 --lr 5e-5 --beta 0.1
import { readFileSync } from "node:fs";
import path from "node:path";
import { type CommandSpec, type ParsedArgs, parseOrExit } from "../src/cli/args.ts";
import { loopConfigSchema } from "../src/dpo/config.ts";
import { allGatesPassed, type Pair, runRound } from "../src/dpo/index.ts";
import { type CausalLM, encodePrompt, HOUSE_MODEL_DIR, initBackend, loadCheckpoint, SampleBatcher } from "../src/lm/index.ts";
import { samplingSettingsSchema } from "../src/server/services/arena-settings/index.ts";
import { measureModel } from "../src/sim/evaluate.ts";
import { createLabelerPool, createRng, decide } from "../src/sim/labeler.ts";
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
  const evalOpts = { prompts: evalPrompts(o), samplesPerPrompt: o["eval-samples"], maxNewTokens: o["max-new-tokens"], seed: o.seed + 1 };
  // KL is measured, as in the product, on held-out prompts at the served length.
  const klPromptIds = evalOpts.prompts.slice(0, o["kl-prompts"]).map((p) => encodePrompt(tok, p));
  const gates = {
    minHeldoutPairs: o["min-heldout"],
    confidence: o.confidence,
    klBudget: o["kl-budget"],
    rootKlBudget: o["root-kl-budget"],
  };

  const t0 = Date.now();
  const first = await measureModel("v0", v0.model, tok, v0.model, evalOpts);
  emit({ event: "start", options: o, evalPrompts: evalOpts.prompts.length, ...first, seconds: (Date.now() - t0) / 1000 });

  let serving: CausalLM = v0.model;
  let version = 0;
  for (let round = 1; round <= o.rounds; round++) {
    const tRound = Date.now();
    // Battles until enough decisive votes: one labeler per battle, as the arena assigns them.
    const pairs: (Pair & { margin: number })[] = [];
    let battles = 0,
      ties = 0,
      sampledTokens = 0;
    const batcher = new SampleBatcher();
    while (pairs.length < o.pairs) {
      // 16 battles at a time share decode steps; each still gets exactly what sample() gives it.
      const chunk = Array.from({ length: 16 }, () => {
        const id = next++;
        return { id, promptIds: encodePrompt(tok, pool[id % pool.length]) };
      });
      const outs = await Promise.all(
        chunk.map(({ id, promptIds }) =>
          batcher.sample(serving, tok, {
            promptIds,
            n: 2,
            temperature: o.temperature,
            topP: o["top-p"],
            maxNewTokens: o["max-new-tokens"],
            seed: o.seed * 100_003 + id + 1,
          }),
        ),
      );
      for (const [j, [a, b]] of outs.entries()) {
        if (pairs.length >= o.pairs) break;
        const { promptIds } = chunk[j];
        battles++;
        sampledTokens += a.ids.length + b.ids.length;
        if (a.ids.length === 0 || b.ids.length === 0) continue;
        const rA = trueReward(a.text),
          rB = trueReward(b.text);
        const who = labelers[Math.floor(rng.next() * labelers.length)];
        const vote = decide(rA, rB, who, rng);
        if (vote === "TIE") {
          ties++;
          continue;
        }
        const [w, l] = vote === "A" ? [a, b] : [b, a];
        pairs.push({ promptIds, chosenIds: w.ids, rejectedIds: l.ids, margin: vote === "A" ? rA - rB : rB - rA });
      }
    }
    await batcher.close();
    const sampleSeconds = (Date.now() - tRound) / 1000;
    const nHeld = Math.round(pairs.length * o["heldout-fraction"]);
    const heldout = pairs.slice(0, nHeld),
      train = pairs.slice(nHeld);
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
        gates,
      },
    });
    const trainSeconds = (Date.now() - tTrain) / 1000;
    const passed = allGatesPassed(result.gates);
    if (passed) {
      if (serving !== v0.model) serving.dispose();
      serving = result.model;
      version++;
    } else result.model.dispose();
    const tEval = Date.now();
    const m = await measureModel(`v${version}`, serving, tok, v0.model, evalOpts);
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
      rise: m.meanReward - first.meanReward,
      riseInStd: (m.meanReward - first.meanReward) / first.rewardStd,
      sampleSeconds,
      sampledTokens,
      trainSeconds,
      evalSeconds: (Date.now() - tEval) / 1000,
      totalMinutes: (Date.now() - t0) / 60_000,
    });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`sim-offline failed: ${(e as Error).stack}\n`);
  process.exit(1);
});
