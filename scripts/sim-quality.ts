// Issue 15's measurements of labeler quality, without the web. One JSON line per result.
//
//   bank   sample real battles from the house model (the arena's sampling settings and stop
//          rule, the sim's sentiment prompts) once, into a file the other experiments read;
//   flag   the arena's vote stream (src/sim/vote-stream.ts: gold pairs, overlap preferring
//          uncertain labelers, the sim's labelers) scored by the product's reliability model
//          (src/quality, the code the server runs) at 50, 100, 150, 200 votes per labeler:
//          precision and recall of the "chance" flag against the sim's careless labelers;
//   train  the same stream on a task clean DPO learns (the marker pairs of src/dpo/testdata.ts on
//          a tiny GPT), trained by the product's round code with labelerWeighting off / weight /
//          exclude (scripts/sim-quality-train.ts).
//
//   node --import tsx scripts/sim-quality.ts --experiment bank --bank-size 600
//   nice -n 19 node --import tsx scripts/sim-quality.ts --experiment flag --labelers 8,20,50 --seeds 5
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import path from "node:path";
import { type CommandSpec, type ParsedArgs, parseOrExit } from "../src/cli/args.ts";
import { MaceModel } from "../src/quality/index.ts";
import { BoundaryStop, overshootFor, planStop } from "../src/server/sampler/stop-rule.ts";
import { CARELESS_KINDS, type CarelessKind, createLabelerPool } from "../src/sim/labeler.ts";
import { labelerEstimates } from "../src/sim/quality-report.ts";
import { type BankPair, longerAgreement, pickGold, readBank, truthOf, voteStream } from "../src/sim/vote-stream.ts";
import { runTrainExperiment } from "./sim-quality-train.ts";

const SPEC = {
  command: "node --import tsx scripts/sim-quality.ts",
  description: "Labeler-quality measurements (issue 15): flag precision/recall as votes accumulate, and training with reliability weights.",
  options: {
    experiment: { type: "string", choices: ["bank", "flag", "train"], default: "flag", help: "what to run" },
    bank: { type: "string", value: "FILE", default: ".scratch/quality-bank.json", help: "sampled battles (written by --experiment bank)" },
    "bank-size": { type: "number", integer: true, min: 10, default: 600, help: "battles to sample for the bank" },
    "bank-seed": { type: "number", integer: true, default: 1, help: "seed of the bank's prompts and samples" },
    labelers: { type: "string", value: "LIST", default: "8,20,50", help: "labeler counts to run (flag)" },
    kinds: { type: "string", value: "LIST", default: CARELESS_KINDS.join(","), help: "careless kinds, one run each" },
    careless: { type: "number", min: 0, max: 1, default: 0.3, help: "share of careless labelers" },
    seeds: { type: "number", integer: true, min: 1, default: 5, help: "how many seeds" },
    "first-seed": { type: "number", integer: true, min: 1, default: 1, help: "seeds first-seed .. first-seed + seeds − 1" },
    checkpoints: { type: "string", value: "LIST", default: "50,100,150,200", help: "votes per labeler at which to fit (flag)" },
    "gold-rate": { type: "number", min: 0, max: 0.5, default: 0.05, help: "arena.goldRate" },
    "gold-pairs": { type: "number", integer: true, min: 0, default: 50, help: "gold pairs the admin made (clear pairs of the bank)" },
    "agreement-share": { type: "number", min: 0, max: 1, default: 0.2, help: "arena.agreementShare" },
    "prefer-uncertain": { type: "string", choices: ["true", "false"], default: "true", help: "arena.overlapPreferUncertain" },
    "bt-temperature": { type: "number", above: 0, default: 1, help: "labelers' Bradley–Terry temperature (the sim's default)" },
    "tie-threshold": { type: "number", min: 0, default: 0.5, help: "|rA − rB| below this is a tie (the sim's default)" },
    "train-labelers": { type: "number", integer: true, min: 2, default: 8, help: "labelers (train)" },
    "train-votes": { type: "number", integer: true, min: 1, default: 100, help: "votes per labeler (train)" },
    "train-heldout": { type: "number", integer: true, min: 10, default: 200, help: "held-out marker pairs with true labels (train)" },
    markers: { type: "number", integer: true, min: 1, default: 100, help: "distinct marker words of the training task (train)" },
    epochs: { type: "number", integer: true, above: 0, default: 2, help: "DPO epochs (train)" },
    lr: { type: "number", above: 0, default: 3e-3, help: "DPO learning rate on the tiny GPT (train)" },
    verbose: { type: "boolean", help: "per-labeler rows at the last checkpoint (flag)" },
  },
} as const satisfies CommandSpec;
export type QualityOptions = ParsedArgs<typeof SPEC>["values"];

const emit = (x: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(x)}\n`);
const load = () => loadavg().map((x) => Math.round(x * 100) / 100);
const list = (s: string) =>
  s
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);
const numbers = (s: string) => list(s).map(Number);

async function sampleBank(o: QualityOptions): Promise<void> {
  const { encodePrompt, HOUSE_MODEL_DIR, initBackend, loadCheckpoint, SampleBatcher } = await import("../src/lm/index.ts");
  const { samplingSettingsSchema } = await import("../src/server/services/arena-settings/index.ts");
  const { sentimentPrefixes } = await import("../src/sim/sentiment-prompts.ts");
  await initBackend("wasm");
  const { model, tokenizer: tok } = await loadCheckpoint(HOUSE_MODEL_DIR);
  const sampling = samplingSettingsSchema.parse({});
  const prompts = sentimentPrefixes(o["bank-size"], "train", { seed: o["bank-seed"] });
  const overshoot = overshootFor("bytes");
  const t0 = Date.now();
  const bank: BankPair[] = [];
  const batcher = new SampleBatcher();
  // The product samples up to maxNewTokens + overshoot and cuts at the first word boundary after
  // maxNewTokens (src/server/sampler/stop-rule.ts): replay that rule on each sampled completion.
  const cut = (promptLength: number, ids: number[]) => {
    const plan = planStop(sampling.maxNewTokens, overshoot, model.config.nPositions - promptLength);
    const stop = new BoundaryStop(1, plan, tok.eos);
    for (let k = 0; k < ids.length && !stop.cutOf(0); k++) stop.observe(0, ids[k]!, tok.decode(ids.slice(0, k + 1)));
    return stop.cutOf(0)?.text ?? tok.decode(ids);
  };
  for (let i = 0; i < prompts.length; i += 16) {
    const chunk = prompts.slice(i, i + 16);
    const outs = await Promise.all(
      chunk.map((prompt, j) => {
        const promptIds = encodePrompt(tok, prompt);
        const limit = planStop(sampling.maxNewTokens, overshoot, model.config.nPositions - promptIds.length).limit;
        return batcher
          .sample(model, tok, {
            promptIds,
            n: 2,
            temperature: sampling.temperature,
            topP: sampling.topP,
            maxNewTokens: limit,
            seed: o["bank-seed"] * 100_003 + i + j + 1,
          })
          .then((s) => s.map((c) => cut(promptIds.length, c.ids)));
      }),
    );
    chunk.forEach((prompt, j) => bank.push({ prompt, a: outs[j]![0]!, b: outs[j]![1]! }));
    process.stderr.write(`\rbank: ${bank.length}/${prompts.length} battles, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
  await batcher.close();
  process.stderr.write("\n");
  mkdirSync(path.dirname(o.bank), { recursive: true });
  writeFileSync(o.bank, JSON.stringify({ seed: o["bank-seed"], sampling, bank }));
  const truths = bank.map((p) => truthOf(p.a, p.b, o["tie-threshold"]));
  emit({
    experiment: "bank",
    battles: bank.length,
    truth: Object.fromEntries(["A", "B", "TIE", "BOTH_BAD"].map((t) => [t, truths.filter((x) => x === t).length])),
    meanChars: bank.reduce((s, p) => s + p.a.length + p.b.length, 0) / (2 * bank.length),
    longerWinsDecisive: longerAgreement(bank, o["tie-threshold"]),
    seconds: (Date.now() - t0) / 1000,
    loadavg: load(),
  });
}

function flagExperiment(o: QualityOptions): void {
  const bank = readBank(o.bank);
  const checkpoints = numbers(o.checkpoints);
  const votesPerLabeler = Math.max(...checkpoints);
  const results: {
    n: number;
    kind: string;
    seed: number;
    k: number;
    precision: number | null;
    recall: number | null;
    tp: number;
    flagged: number;
    careless: number;
  }[] = [];
  for (const n of numbers(o.labelers)) {
    for (const kind of list(o.kinds) as CarelessKind[]) {
      for (let seed = o["first-seed"]; seed < o["first-seed"] + o.seeds; seed++) {
        const profiles = createLabelerPool({
          count: n,
          carelessFraction: o.careless,
          carelessKind: kind,
          temperature: o["bt-temperature"],
          tieThreshold: o["tie-threshold"],
          seed,
        });
        const gold = pickGold(bank, o["gold-pairs"], o["tie-threshold"], seed);
        const goldSet = new Set(gold);
        const votes = voteStream({
          bank,
          labelers: profiles,
          votesPerLabeler,
          goldRate: o["gold-rate"],
          goldPairs: gold,
          agreementShare: o["agreement-share"],
          preferUncertain: o["prefer-uncertain"] === "true",
          poolIndices: bank.map((_, i) => i).filter((i) => !goldSet.has(i)),
          tieThreshold: o["tie-threshold"],
          seed,
        });
        const goldAnswers = gold.map((g) => ({
          item: `gold:${g}`,
          answer: truthOf(bank[g]!.a, bank[g]!.b, o["tie-threshold"]) as "A" | "B",
        }));
        const truth = profiles.map((p, j) => ({
          username: `l${j}`,
          careless: p.careless,
          carelessKind: p.carelessKind ?? (p.careless ? "random" : undefined),
        }));
        let model = new MaceModel();
        for (const k of checkpoints) {
          const upTo = votes.filter((v) => v.turn <= k);
          model = new MaceModel();
          const t0 = performance.now();
          const fit = model.fit(
            upTo.map((v) => ({ labeler: `l${v.labeler}`, item: v.item, answer: v.answer })),
            { gold: goldAnswers },
          );
          const ms = performance.now() - t0;
          const { rows, flags } = labelerEstimates(
            truth,
            fit.labelers.map((l) => ({ ...l, username: l.labeler })),
          );
          const tp = rows.filter((r) => r.flagged && r.careless).length;
          results.push({
            n,
            kind,
            seed,
            k,
            precision: flags.precision,
            recall: flags.recall,
            tp,
            flagged: flags.flagged,
            careless: flags.careless,
          });
          const byId = new Map(fit.labelers.map((l) => [l.labeler, l]));
          const z = (careless: boolean) =>
            truth.filter((t) => t.careless === careless).map((t) => Math.round((byId.get(t.username)?.aboveChance ?? 0) * 100) / 100);
          emit({
            experiment: "flag",
            labelers: n,
            kind,
            seed,
            votesPerLabeler: k,
            precision: flags.precision,
            recall: flags.recall,
            flagged: flags.flagged,
            careless: flags.careless,
            noEvidence: fit.labelers.filter((l) => l.flag === "no-evidence").length,
            meanEvidence: fit.labelers.reduce((s, l) => s + l.evidence, 0) / fit.labelers.length,
            aboveChanceCareless: z(true),
            aboveChanceCareful: z(false),
            fitMs: Math.round(ms),
            loadavg: load(),
            ...(o.verbose && k === votesPerLabeler ? { rows } : {}),
          });
        }
      }
    }
  }
  // Over seeds: mean and range of each, and the pooled precision (flags of all seeds together).
  const groups = new Map<string, typeof results>();
  for (const r of results) {
    const key = `${r.n}|${r.kind}|${r.k}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  for (const rs of groups.values()) {
    const stat = (xs: (number | null)[]) => {
      const v = xs.filter((x): x is number => x !== null);
      return v.length ? { mean: v.reduce((a, b) => a + b, 0) / v.length, min: Math.min(...v), max: Math.max(...v), seeds: v.length } : null;
    };
    const flagged = rs.reduce((s, r) => s + r.flagged, 0);
    const careless = rs.reduce((s, r) => s + r.careless, 0);
    const tp = rs.reduce((s, r) => s + r.tp, 0);
    emit({
      experiment: "flag-summary",
      labelers: rs[0]!.n,
      kind: rs[0]!.kind,
      votesPerLabeler: rs[0]!.k,
      seeds: rs.length,
      precision: stat(rs.map((r) => r.precision)),
      recall: stat(rs.map((r) => r.recall)),
      pooledPrecision: flagged ? tp / flagged : null,
      pooledRecall: careless ? tp / careless : null,
      loadavg: load(),
    });
  }
}

async function main() {
  const o = parseOrExit(SPEC).values;
  if (o.experiment === "bank") await sampleBank(o);
  else if (o.experiment === "flag") flagExperiment(o);
  else await runTrainExperiment(o);
}

main().catch((e: unknown) => {
  process.stderr.write(`sim-quality failed: ${(e as Error).stack}\n`);
  process.exit(1);
});
