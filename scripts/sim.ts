// `npm run sim`: synthetic labelers with a known reward drive the real product over HTTP while
// the trainer runs DPO rounds on its normal schedule; the report says whether the true reward
// of the served policy rose, and at what KL from v0. See src/sim/ and `--help`.
import { existsSync } from "node:fs";
import { cp, mkdir } from "node:fs/promises";
import path from "node:path";
import { HOUSE_MODEL_DIR, initBackend } from "../src/lm/index.ts";
import { CARELESS_KINDS, type CarelessKind } from "../src/sim/labeler.ts";
import { ROOT } from "../src/sim/product/launch.ts";
import { runSim, type SimOptions, type SimResult } from "../src/sim/product/run.ts";
import { LOOP } from "../src/sim/product/settings-names.ts";
import { type SeedRun, type SimReport, type SweepPoint, writeReport } from "../src/sim/report.ts";
import { REWARD_KINDS, type RewardKind } from "../src/sim/reward.ts";
import { aggregateSeeds, summarize } from "../src/sim/summary.ts";

const HELP = `npm run sim -- [options]
  --url URL              use a running product (also --database-url URL and SIM_ADMIN_PASSWORD)
                         default: start a private one (fresh database, seed, web + trainer)
  --web next|host        how to serve the web when starting one: next start (needs a build) or the
                         API-only host (the same route handlers, no build)
                         [next when a production build exists, else host]
  --labelers N           synthetic labelers                                       [8]
  --careless F           fraction of careless labelers (vote at random)           [0]
  --careless-kind K      how careless labelers click: random, always-a, longer    [random]
  --temperature T        Bradley–Terry temperature in reward units                [1]
  --tie-threshold D      |rA − rB| below D is a tie                               [0.5]
  --think-ms MS          pause before each vote                                   [0]
  --rounds R             stop after R finished rounds                             [4]
  --minutes T            or after T minutes of labeling in all                    [30]
  --rating-minutes M     then M minutes (within T) of battles between the serving
                         version and earlier ones, with no training, so the final
                         leaderboard can rate the last version                    [4]
  --rating-prompts N     prompts held back from training and imported when the
                         rating phase starts, so it always has prompts to serve   [3000]
  --reward KIND          the true reward labelers judge by: distinct = each AFINN
                         word once per completion, −0.5 per repeated word, and
                         degenerate (heavily repeated) text judged bad; summed =
                         the old sum of every match, which a policy can hack by
                         repeating "best"                                          [distinct]
  --seeds N              run N seeds (seed, seed+1, …), each on a fresh product,
                         and report mean ± s.e. over them                          [1]
  --beta B               DPO β (default: the product's setting)
  --votes-per-round N    new decisive votes that start a round (default: the product's setting)
  --learning-rate LR     DPO learning rate (default: the product's setting)
  --epochs E             DPO epochs per round (default: the product's setting)
  --max-new-tokens N     completion length in battles (default: the product's setting)
  --set K=V[,K=V…]       other product settings over HTTP, K one of dpo.*, gates.*, schedule.*,
                         sampling.*, V JSON (e.g. dpo.heldoutFraction=0.25,gates.klBudget=null)
  --sweep-beta LIST      run the loop once per β (e.g. 0.05,0.1,0.5) and chart the reward/KL trade-off
  --prompts SET          sentiment: corpus prefixes cut before a valenced word replace the seed
                         pool; measured on disjoint held-out prefixes. book: Moby-Dick openings
                         added to the seed pool; measured on the seed's held-out prompts [sentiment]
  --extra-prompts N      training prompts imported into the pool: a number, or
                         all = every distinct training prefix of the prompt set
                         less the rating reserve (sentiment: 33,591 − 3,000)       [all]
  --eval-prompts N       held-out prompts for measurement                         [48]
  --eval-samples N       samples per held-out prompt                              [8]
  --corpus-windows N     windows of held-out pretraining text scored per version
                         for the corpus loss (nats/byte)                          [32]
  --out DIR              report directory                                         [sim-report]
  --seed S               seed of labelers and measurement                         [1]`;

function parseArgs(argv: string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--help" || a === "-h") {
      process.stdout.write(`${HELP}\n`);
      process.exit(0);
    }
    if (!a.startsWith("--")) throw new Error(`unexpected argument "${a}" (see --help)`);
    const v = argv[i + 1];
    if (v === undefined || v.startsWith("--")) throw new Error(`${a} needs a value (see --help)`);
    flags.set(a.slice(2), v);
    i++;
  }
  const known = new Set(
    HELP.match(/--[a-z-]+/g)!
      .map((f) => f.slice(2))
      .concat(["database-url", "admin-user", "admin-password", "keep-db"]),
  );
  for (const k of flags.keys()) if (!known.has(k)) throw new Error(`unknown option --${k} (see --help)`);
  return flags;
}

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

function number(flags: Map<string, string>, name: string, fallback: number, check: (n: number) => boolean = (n) => n >= 0): number {
  const raw = flags.get(name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || !check(n)) throw new Error(`--${name} has an invalid value "${raw}"`);
  return n;
}

function optional(flags: Map<string, string>, name: string, check: (n: number) => boolean = (n) => n > 0): number | undefined {
  return flags.has(name) ? number(flags, name, 0, check) : undefined;
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
  const flags = parseArgs(process.argv.slice(2));
  const out = path.resolve(flags.get("out") ?? "sim-report");
  const log = (msg: string) => process.stdout.write(`[sim ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
  // Without a production build `next start` cannot run; the defaults must still work, so they
  // fall back to the API host (the same route handlers). An explicit --web next still insists.
  const hasBuild = existsSync(path.join(ROOT, ".next", "BUILD_ID"));
  const web = flags.get("web") ?? (hasBuild ? "next" : "host");
  if (web !== "next" && web !== "host") throw new Error(`--web must be next or host, got "${web}"`);
  if (!flags.has("web") && !hasBuild) log("no production build (.next/BUILD_ID): serving the API with --web host");
  await initBackend((process.env.TF_BACKEND as "auto" | "wasm" | "cpu" | undefined) ?? "auto");

  const houseCopy = path.join(out, "house-v0");
  const promptSet = flags.get("prompts") ?? "sentiment";
  if (promptSet !== "sentiment" && promptSet !== "book") throw new Error(`--prompts must be sentiment or book, got "${promptSet}"`);

  const dpo: Record<string, unknown> = {};
  const lr = optional(flags, "learning-rate");
  if (lr !== undefined) dpo[LOOP.dpo.learningRate] = lr;
  const epochs = optional(flags, "epochs", Number.isInteger);
  if (epochs !== undefined) dpo[LOOP.dpo.epochs] = epochs;
  const reward = (flags.get("reward") ?? "distinct") as RewardKind;
  if (!REWARD_KINDS.includes(reward)) throw new Error(`--reward must be one of ${REWARD_KINDS.join(", ")}, got "${flags.get("reward")}"`);
  const extraRaw = flags.get("extra-prompts");
  const extraPrompts: number | "all" =
    extraRaw === undefined || extraRaw === "all" ? "all" : number(flags, "extra-prompts", 0, Number.isInteger);
  const maxNewTokens = optional(flags, "max-new-tokens", Number.isInteger);
  const extra = parseSet(flags.get("set"));
  Object.assign(dpo, extra.dpo);
  const base: Omit<SimOptions, "workDir"> = {
    url: flags.get("url"),
    databaseUrl: flags.get("database-url") ?? (flags.get("url") ? process.env.DATABASE_URL : undefined),
    adminUsername: flags.get("admin-user"),
    adminPassword: flags.get("admin-password") ?? process.env.SIM_ADMIN_PASSWORD,
    web,
    houseModelDir: houseCopy,
    labelers: number(flags, "labelers", 8, (n) => Number.isInteger(n) && n >= 1),
    careless: number(flags, "careless", 0, (n) => n >= 0 && n <= 1),
    carelessKind: carelessKindOf(flags.get("careless-kind")),
    temperature: number(flags, "temperature", 1, (n) => n > 0),
    tieThreshold: number(flags, "tie-threshold", 0.5),
    thinkMs: number(flags, "think-ms", 0),
    rounds: number(flags, "rounds", 4, (n) => Number.isInteger(n) && n >= 1),
    minutes: number(flags, "minutes", 30, (n) => n > 0),
    ratingMinutes: number(flags, "rating-minutes", 4),
    beta: optional(flags, "beta"),
    votesPerRound: optional(flags, "votes-per-round", (n) => Number.isInteger(n) && n >= 2),
    dpo,
    sampling: maxNewTokens || extra.sampling ? { ...extra.sampling, ...(maxNewTokens ? { maxNewTokens } : {}) } : undefined,
    gates: extra.gates,
    schedule: extra.schedule,
    extraPrompts,
    ratingPrompts: number(flags, "rating-prompts", 3000, Number.isInteger),
    reward,
    corpusWindows: number(flags, "corpus-windows", 32, Number.isInteger),
    promptSet,
    evalPrompts: number(flags, "eval-prompts", 48, (n) => Number.isInteger(n) && n >= 1),
    evalSamplesPerPrompt: number(flags, "eval-samples", 8, (n) => Number.isInteger(n) && n >= 1),
    seed: number(flags, "seed", 1, Number.isInteger),
    log,
    signal: interrupt.signal,
  };

  const sweep = flags
    .get("sweep-beta")
    ?.split(",")
    .map((s) => Number(s.trim()));
  if (sweep?.some((b) => !(b > 0)))
    throw new Error(`--sweep-beta must be a comma-separated list of positive numbers, got "${flags.get("sweep-beta")}"`);
  const seeds = number(flags, "seeds", 1, (n) => Number.isInteger(n) && n >= 1);
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
      ...Object.fromEntries(flags),
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

function carelessKindOf(value: string | undefined): CarelessKind | undefined {
  if (value === undefined) return undefined;
  if (!CARELESS_KINDS.includes(value as CarelessKind))
    throw new Error(`--careless-kind must be one of ${CARELESS_KINDS.join(", ")}, got "${value}"`);
  return value as CarelessKind;
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`sim failed: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
