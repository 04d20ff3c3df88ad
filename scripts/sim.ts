// `npm run sim`: synthetic labelers with a known reward drive the real product over HTTP while
// the trainer runs DPO rounds on its normal schedule; the report says whether the true reward
// of the served policy rose, and at what KL from v0. See src/sim/ and `--help`.
import { existsSync } from "node:fs";
import { cp, mkdir } from "node:fs/promises";
import path from "node:path";
import { type CommandSpec, parseOrExit } from "../src/cli/args.ts";
import { HOUSE_MODEL_DIR, initBackend } from "../src/lm/index.ts";
import { CARELESS_KINDS, type CarelessKind } from "../src/sim/labeler.ts";
import { ROOT } from "../src/sim/product/launch.ts";
import { runSim, type SimOptions, type SimResult } from "../src/sim/product/run.ts";
import { LOOP } from "../src/sim/product/settings-names.ts";
import { type SeedRun, type SimReport, type SweepPoint, writeReport } from "../src/sim/report.ts";
import { REWARD_KINDS, type RewardKind } from "../src/sim/reward.ts";
import { aggregateSeeds, summarize } from "../src/sim/summary.ts";

const count = (help: string, dflt: number) => ({ type: "number", integer: true, min: 1, default: dflt, help }) as const;

const SPEC = {
  command: "npm run sim --",
  description: `Synthetic labelers with a known reward vote on the real product over HTTP while its trainer runs
DPO rounds; the report says whether the served policy's true reward rose, and at what KL from v0.`,
  options: {
    url: {
      type: "string",
      value: "URL",
      help: "use a running product (with --database-url and SIM_ADMIN_PASSWORD)\ndefault: start a private one (fresh database, seed, web + trainer)",
    },
    "database-url": { type: "string", value: "URL", help: "the running product's database (default DATABASE_URL)" },
    "admin-user": { type: "string", value: "NAME", help: "the running product's admin" },
    "admin-password": { type: "string", value: "PASSWORD", help: "its password (default SIM_ADMIN_PASSWORD)" },
    web: {
      type: "string",
      choices: ["next", "host"],
      help: `how to serve the web when starting one: next start (needs a build) or the
API-only host (the same route handlers, no build)
[next when a production build exists, else host]`,
    },
    labelers: count("synthetic labelers", 8),
    careless: { type: "number", min: 0, max: 1, default: 0, value: "F", help: "fraction of careless labelers" },
    "careless-kind": {
      type: "string",
      choices: CARELESS_KINDS,
      default: "random",
      value: "K",
      help: "how careless labelers click: random, always-a (always the left answer), longer (always the longer answer)",
    },
    temperature: { type: "number", above: 0, default: 1, value: "T", help: "Bradley–Terry temperature in reward units" },
    "tie-threshold": { type: "number", min: 0, default: 0.5, help: "|rA − rB| below D is a tie", value: "D" },
    "think-ms": { type: "number", min: 0, default: 0, help: "pause before each vote", value: "MS" },
    rounds: { ...count("stop after R finished rounds", 4), value: "R" },
    minutes: { type: "number", above: 0, default: 30, help: "or after T minutes of labeling in all", value: "T" },
    "rating-minutes": {
      type: "number",
      min: 0,
      default: 4,
      value: "M",
      help: `then M minutes (within T) of battles between the serving version and earlier
ones, with no training, so the final leaderboard can rate the last version`,
    },
    "rating-prompts": {
      type: "number",
      integer: true,
      min: 0,
      default: 3000,
      help: "prompts held back from training and imported when the rating phase starts,\nso it always has prompts to serve",
    },
    reward: {
      type: "string",
      value: "KIND",
      choices: REWARD_KINDS,
      default: "distinct",
      help: `the true reward labelers judge by: distinct = each AFINN word once per
completion, −0.5 per repeated word, and degenerate (heavily repeated) text
judged bad; summed = the old sum of every match, which a policy can hack by
repeating "best"`,
    },
    seeds: count("run N seeds (seed, seed+1, …), each on a fresh product, and report mean ± s.e.", 1),
    beta: { type: "number", above: 0, value: "B", help: "DPO β (default: the product's setting)" },
    "votes-per-round": {
      type: "number",
      integer: true,
      min: 2,
      help: "new decisive votes that start a round (default: the product's setting)",
    },
    "learning-rate": { type: "number", above: 0, value: "LR", help: "DPO learning rate (default: the product's setting)" },
    epochs: { type: "number", integer: true, above: 0, value: "E", help: "DPO epochs per round (default: the product's setting)" },
    "max-new-tokens": { type: "number", integer: true, above: 0, help: "completion length in battles (default: the product's setting)" },
    set: {
      type: "string",
      value: "K=V[,K=V…]",
      help: `other product settings over HTTP, K one of dpo.*, gates.*, schedule.*, sampling.*,
V JSON (e.g. dpo.heldoutFraction=0.25,gates.klBudget=null)`,
    },
    "sweep-beta": { type: "string", value: "LIST", help: "run the loop once per β (e.g. 0.05,0.1,0.5) and chart the reward/KL trade-off" },
    prompts: {
      type: "string",
      value: "SET",
      choices: ["sentiment", "book"],
      default: "sentiment",
      help: `sentiment: corpus prefixes cut before a valenced word replace the seed pool;
measured on disjoint held-out prefixes. book: Moby-Dick openings added to the
seed pool; measured on the seed's held-out prompts`,
    },
    "extra-prompts": {
      type: "string",
      value: "N",
      default: "all",
      help: `training prompts imported into the pool: a number, or all = every distinct
training prefix of the prompt set less the rating reserve (sentiment: 33,591 − 3,000)`,
    },
    "eval-prompts": count("held-out prompts for measurement", 48),
    "eval-samples": count("samples per held-out prompt", 8),
    "corpus-windows": {
      type: "number",
      integer: true,
      min: 0,
      default: 32,
      help: "windows of held-out pretraining text scored per version for the corpus loss (nats/byte)",
    },
    out: { type: "string", value: "DIR", default: "sim-report", help: "report directory" },
    seed: { type: "number", integer: true, default: 1, value: "S", help: "seed of labelers and measurement" },
  },
} as const satisfies CommandSpec;

/** `--set dpo.heldoutFraction=0.25,gates.klBudget=null` → { dpo: {…}, gates: {…} }. */
function parseSet(raw: string | undefined): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  if (!raw) return out;
  for (const item of raw.split(",")) {
    const m = /^(dpo|gates|schedule|sampling)\.([A-Za-z]+)=(.+)$/.exec(item.trim());
    if (!m) throw new Error(`--set: "${item}" is not GROUP.KEY=VALUE with GROUP dpo, gates, schedule or sampling`);
    let value: unknown;
    try {
      value = JSON.parse(m[3]);
    } catch {
      value = m[3];
    }
    (out[m[1]] ??= {})[m[2]] = value;
  }
  return out;
}

// First Ctrl-C: stop voting, measure what exists and write the report. Second: leave now.
const interrupt = new AbortController();
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    if (interrupt.signal.aborted) process.exit(130);
    process.stderr.write(`\n${sig}: stopping the labelers; measuring and writing the report (again to quit at once)\n`);
    interrupt.abort();
  });
}

async function main(): Promise<void> {
  const { values: o, given } = parseOrExit(SPEC);
  const out = path.resolve(o.out);
  const log = (msg: string) => process.stdout.write(`[sim ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
  // Without a production build `next start` cannot run; the defaults must still work, so they
  // fall back to the API host (the same route handlers). An explicit --web next still insists.
  const hasBuild = existsSync(path.join(ROOT, ".next", "BUILD_ID"));
  const web = o.web ?? (hasBuild ? "next" : "host");
  if (o.web === undefined && !hasBuild) log("no production build (.next/BUILD_ID): serving the API with --web host");
  await initBackend((process.env.TF_BACKEND as "auto" | "wasm" | "cpu" | undefined) ?? "auto");

  const houseCopy = path.join(out, "house-v0");
  const promptSet = o.prompts;

  const dpo: Record<string, unknown> = {};
  if (o["learning-rate"] !== undefined) dpo[LOOP.dpo.learningRate] = o["learning-rate"];
  if (o.epochs !== undefined) dpo[LOOP.dpo.epochs] = o.epochs;
  const reward: RewardKind = o.reward;
  const extraPrompts: number | "all" = o["extra-prompts"] === "all" ? "all" : Number(o["extra-prompts"]);
  if (extraPrompts !== "all" && !Number.isInteger(extraPrompts))
    throw new Error(`--extra-prompts must be an integer or all, got "${o["extra-prompts"]}"`);
  const maxNewTokens = o["max-new-tokens"];
  const extra = parseSet(o.set);
  Object.assign(dpo, extra.dpo);
  const base: Omit<SimOptions, "workDir"> = {
    url: o.url,
    databaseUrl: o["database-url"] ?? (o.url ? process.env.DATABASE_URL : undefined),
    adminUsername: o["admin-user"],
    adminPassword: o["admin-password"] ?? process.env.SIM_ADMIN_PASSWORD,
    web,
    houseModelDir: houseCopy,
    labelers: o.labelers,
    careless: o.careless,
    carelessKind: o["careless-kind"] as CarelessKind,
    temperature: o.temperature,
    tieThreshold: o["tie-threshold"],
    thinkMs: o["think-ms"],
    rounds: o.rounds,
    minutes: o.minutes,
    ratingMinutes: o["rating-minutes"],
    beta: o.beta,
    votesPerRound: o["votes-per-round"],
    dpo,
    sampling: maxNewTokens || extra.sampling ? { ...extra.sampling, ...(maxNewTokens ? { maxNewTokens } : {}) } : undefined,
    gates: extra.gates,
    schedule: extra.schedule,
    extraPrompts,
    ratingPrompts: o["rating-prompts"],
    reward,
    corpusWindows: o["corpus-windows"],
    promptSet,
    evalPrompts: o["eval-prompts"],
    evalSamplesPerPrompt: o["eval-samples"],
    seed: o.seed,
    log,
    signal: interrupt.signal,
  };

  const sweep = o["sweep-beta"]?.split(",").map((s) => Number(s.trim()));
  if (sweep?.some((b) => !(b > 0)))
    throw new Error(`--sweep-beta must be a comma-separated list of positive numbers, got "${o["sweep-beta"]}"`);
  const seeds = o.seeds;
  if (sweep && seeds > 1) throw new Error("--sweep-beta and --seeds run one loop per value each; use one of them");

  // Only now that every option is valid: touch the file system.
  await mkdir(out, { recursive: true });
  // Pretraining may rewrite models/house during a run; every run serves a fixed copy.
  if (!base.url) await cp(HOUSE_MODEL_DIR, houseCopy, { recursive: true });
  const plans: { beta: number | undefined; seed: number; dir: string }[] = sweep
    ? sweep.map((beta) => ({ beta, seed: base.seed, dir: `run-beta-${beta}` }))
    : Array.from({ length: seeds }, (_, k) => ({
        beta: base.beta,
        seed: base.seed + k,
        dir: seeds > 1 ? `run-seed-${base.seed + k}` : "run",
      }));
  const runs: { beta: number | undefined; seed: number; result: SimResult; summary: Record<string, unknown> }[] = [];
  for (const plan of plans) {
    if (runs.length && interrupt.signal.aborted) break;
    if (plans.length > 1) log(sweep ? `β = ${plan.beta}` : `seed ${plan.seed}`);
    const workDir = path.join(out, plan.dir);
    await mkdir(workDir, { recursive: true });
    const result = await runSim({ ...base, beta: plan.beta, seed: plan.seed, workDir });
    const summary = {
      ...summarize(result.versions, {
        decisiveVotes: result.decisiveVotes,
        votesUntilFirstPromotion: result.votesUntilFirstPromotion,
        rootKlBudget: result.rootKlBudget,
      }),
      votes: result.votes,
      ...(result.labelerQuality
        ? { chanceFlagPrecision: result.labelerQuality.flags.precision, chanceFlagRecall: result.labelerQuality.flags.recall }
        : {}),
      ratingVotes: result.ratingVotes,
      minutes: result.minutes,
      stoppedBecause: result.stoppedBecause,
    };
    runs.push({ beta: plan.beta, seed: plan.seed, result, summary });
    const tag = sweep ? `β=${plan.beta} ` : plans.length > 1 ? `seed ${plan.seed} ` : "";
    for (const v of result.versions) {
      log(
        `${tag}${v.name}: reward ${v.meanReward.toFixed(3)} ± ${v.rewardStderr.toFixed(3)} (std ${v.rewardStd.toFixed(3)}, T=1 ${v.meanRewardT1.toFixed(3)}), ` +
          `KL from v0 ${v.klFromRoot.toFixed(2)} ± ${v.klFromRootStderr.toFixed(2)}, repeated 3-grams ${v.repetitionRate.toFixed(3)}, corpus loss ${v.heldoutCorpusLoss?.toFixed(4) ?? "–"}, rating ${v.rating?.toFixed(0) ?? "–"}`,
      );
    }
  }
  const first = runs[0];
  const seedRuns: SeedRun[] | undefined =
    !sweep && runs.length > 1
      ? runs.map((r) => ({ seed: r.seed, versions: r.result.versions, rounds: r.result.rounds, summary: r.summary }))
      : undefined;
  const report: SimReport = {
    versions: first.result.versions,
    rounds: first.result.rounds,
    ...(sweep ? { sweep: runs.map((r): SweepPoint => ({ beta: r.beta!, versions: r.result.versions })) } : {}),
    ...(seedRuns ? { seeds: seedRuns, aggregate: aggregateSeeds(seedRuns.map((r) => r.summary)) } : {}),
    summary: first.summary,
    config: {
      ...given,
      reward,
      rootKlBudget: first.result.rootKlBudget,
      prompts: first.result.prompts,
      loopSettings: first.result.settings,
    },
    labelers: first.result.labelers,
    ...(first.result.labelerQuality ? { labelerQuality: first.result.labelerQuality } : {}),
  };
  const files = await writeReport(out, report);
  log(`report: ${files.json}, ${files.html} and ${files.svg}`);
  log(`summary: ${JSON.stringify(report.summary)}`);
  if (report.aggregate)
    log(
      `over ${runs.length} seeds: ${Object.entries(report.aggregate)
        .map(([k, a]) => `${k} ${a.mean.toFixed(3)}${a.se === null ? "" : ` ± ${a.se.toFixed(3)}`}`)
        .join("; ")}`,
    );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`sim failed: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
