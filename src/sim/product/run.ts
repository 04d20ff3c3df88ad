// One sim run end to end: product up (or an existing one), admin set-up over HTTP
// (admin-setup.ts), synthetic labelers voting until R rounds finished or T minutes passed, an
// optional rating phase, then measurement of every promoted version (measure.ts) and the report
// data.
import { createPrismaClient, type PrismaClient } from "../../server/db/client.ts";
import { ProductClient } from "../client.ts";
import { driveLabelers, type LabelerStats, sleep } from "../driver.ts";
import { type CarelessKind, createLabelerPool } from "../labeler.ts";
import { planPrompts } from "../prompt-plan.ts";
import type { FlagScore, LabelerEstimateRow } from "../quality-report.ts";
import type { ReportRound, ReportVersion } from "../report.ts";
import type { RewardKind } from "../reward.ts";
import { summarize } from "../summary.ts";
import { createLabelers, disableServedPool, importPrompts } from "./admin-setup.ts";
import { launchProduct, type Product, type WebMode } from "./launch.ts";
import { readOutcome, scoreVersions } from "./measure.ts";
import { FINISHED, type RoundRow } from "./rounds.ts";
import { ARENA, loopPatch, rootKlBudgetOf } from "./settings-names.ts";

export { summarize };

export interface SimOptions {
  /** an already running product; otherwise one is started (needs `databaseUrl` for measurement) */
  url?: string;
  databaseUrl?: string;
  adminUsername?: string;
  adminPassword?: string;
  workDir: string;
  web?: WebMode;
  houseModelDir?: string;
  prepare?: (db: PrismaClient) => Promise<void>;
  labelers: number;
  careless: number;
  /** how the careless labelers click (default "random") */
  carelessKind?: CarelessKind;
  temperature: number;
  tieThreshold: number;
  thinkMs: number;
  rounds: number;
  /** the whole labeling time, rating phase included */
  minutes: number;
  /**
   * The last minutes of labeling are a rating phase: no new rounds start (a running one is
   * cancelled), and every battle pits the serving version against an earlier promoted one
   * (arena.onPolicyShare 0), so the final version gets enough rated battles for the
   * leaderboard to tell it from v0. It starts after R rounds or at minutes − ratingMinutes.
   */
  ratingMinutes?: number;
  beta?: number;
  /** schedule.minNewPairs; default: the product's setting */
  votesPerRound?: number;
  /** other loop/arena settings to apply over HTTP (e.g. learningRate, maxNewTokens) */
  dpo?: Record<string, unknown>;
  gates?: Record<string, unknown>;
  schedule?: Record<string, unknown>;
  sampling?: Record<string, unknown>;
  /** prompts imported over HTTP for the training phase; "all" (default): the corpus's, less the rating reserve */
  extraPrompts?: number | "all";
  /**
   * prompts held back and imported only when the rating phase starts, so labelers that use up
   * the training pool cannot leave the rating phase with nothing to serve (default 3000; 0
   * without a rating phase)
   */
  ratingPrompts?: number;
  /** the reward labelers judge by: "distinct" (default) or the old "summed" (shows reward hacking) */
  reward?: RewardKind;
  /** windows of held-out corpus text scored per version (default 32) */
  corpusWindows?: number;
  /**
   * "sentiment" (default): training prompts are corpus prefixes cut before a valenced word
   * (src/sim/sentiment-prompts.ts), measurement uses the disjoint evaluation prefixes, and a
   * private product's seed pool is switched off so battles use only the imported prompts.
   * "book": Moby-Dick openings added to the seed pool; measurement on the seed's held-out prompts.
   */
  promptSet?: "sentiment" | "book";
  evalPrompts: number;
  evalSamplesPerPrompt: number;
  evalMaxNewTokens?: number;
  seed: number;
  tfBackend?: "auto" | "wasm" | "cpu";
  log?: (msg: string) => void;
  /** aborting stops the labelers early; the run is then measured and reported as it stands */
  signal?: AbortSignal;
}

export interface SimResult {
  versions: ReportVersion[];
  rounds: ReportRound[];
  labelers: LabelerStats[];
  /** the product's reliability estimate per labeler next to the sim's truth (issue 15) */
  labelerQuality: { rows: LabelerEstimateRow[]; flags: FlagScore } | null;
  votes: number;
  minutes: number;
  stoppedBecause: string;
  /** votes cast in the rating phase (0 when there was none) */
  ratingVotes: number;
  /** decisive (A/B) votes cast before the rating phase */
  decisiveVotes: number;
  /** decisive votes cast before the first promotion; null when nothing was promoted */
  votesUntilFirstPromotion: number | null;
  /** training prompts imported at the start, and the reserve imported when the rating phase began */
  prompts: { training: number; reserve: number; reserveImported: number };
  rootKlBudget: number | null;
  settings: unknown;
}

export async function runSim(opts: SimOptions): Promise<SimResult> {
  const log = opts.log ?? (() => {});
  let product: Product | undefined;
  let db: PrismaClient;
  let baseUrl: string;
  let adminCreds: { username: string; password: string };
  if (opts.url) {
    if (!opts.databaseUrl)
      throw new Error(
        "--url needs --database-url (or DATABASE_URL): the evaluation reads held-out prompts and votes from the product's database",
      );
    if (!opts.adminPassword)
      throw new Error("--url needs the admin password (SIM_ADMIN_PASSWORD or --admin-password) to create labelers and set the schedule");
    baseUrl = opts.url;
    db = createPrismaClient(opts.databaseUrl);
    adminCreds = { username: opts.adminUsername ?? "admin", password: opts.adminPassword };
  } else {
    product = await launchProduct({
      workDir: opts.workDir,
      web: opts.web,
      houseModelDir: opts.houseModelDir,
      prepare: opts.prepare,
      tfBackend: opts.tfBackend,
      log,
    });
    baseUrl = product.baseUrl;
    db = product.db;
    adminCreds = product.admin;
  }

  const started = Date.now();
  const controller = new AbortController();
  try {
    const admin = new ProductClient({ baseUrl });
    await admin.signIn(adminCreds.username, adminCreds.password);
    const settings = await admin.mutation(
      "rounds.updateSettings",
      loopPatch(
        { autoTrain: true, votesPerRound: opts.votesPerRound, checkIntervalSeconds: 2, beta: opts.beta },
        {
          ...(opts.schedule ? { schedule: opts.schedule } : {}),
          ...(opts.dpo ? { dpo: opts.dpo } : {}),
          ...(opts.gates ? { gates: opts.gates } : {}),
        },
      ),
    );
    const rootKlBudget = rootKlBudgetOf(settings);
    if (opts.sampling) await admin.mutation("arena.updateSettings", { sampling: opts.sampling });
    const promptSet = opts.promptSet ?? "sentiment";
    if (promptSet === "sentiment" && product) {
      const disabled = await disableServedPool(admin);
      log(`switched off ${disabled} seed prompts (battles use the sentiment prefixes only)`);
    }
    // One labeler per prompt: a prompt two labelers judge reuses the first battle's completions,
    // which in the rating phase would be an older on-policy pair instead of a rated one.
    const ratingMinutes = opts.ratingMinutes ?? 0;
    const plan = planPrompts({
      set: promptSet,
      training: opts.extraPrompts ?? "all",
      reserve: ratingMinutes > 0 ? (opts.ratingPrompts ?? 3000) : 0,
      seed: opts.seed,
    });
    await importPrompts(admin, plan.training, { promptSet, what: "training", log });
    if (plan.reserve.length) log(`holding ${plan.reserve.length} prompts back for the rating phase`);

    const profiles = createLabelerPool({
      count: opts.labelers,
      carelessFraction: opts.careless,
      carelessKind: opts.carelessKind,
      temperature: opts.temperature,
      tieThreshold: opts.tieThreshold,
      seed: opts.seed,
    });
    const accounts = await createLabelers(admin, profiles);
    log(`${accounts.length} labelers created (${profiles.filter((p) => p.careless).length} careless); voting`);

    let votes = 0;
    let decisiveVotes = 0;
    let rating = false;
    const labeling = driveLabelers({
      baseUrl,
      labelers: accounts,
      thinkMs: opts.thinkMs,
      seed: opts.seed,
      reward: opts.reward,
      signal: controller.signal,
      onVote: (e) => {
        votes++;
        if (!rating && (e.choice === "A" || e.choice === "B")) decisiveVotes++;
      },
      onProblem: (e) => log(`labeler ${e.username}: ${e.message}`),
    });

    const trainingMs = Math.max(0, opts.minutes - ratingMinutes) * 60_000;
    let stoppedBecause = "";
    let lastSeen = "";
    let lastLog = 0;
    while (!stoppedBecause) {
      await sleep(3000, opts.signal);
      const rounds = await admin.query<RoundRow[]>("rounds.list", { limit: 200 });
      const finished = rounds.filter((r) => FINISHED.has(r.status));
      const line = rounds
        .map((r) => `#${r.number} ${r.status}${r.resultVersion ? `→${r.resultVersion.name}` : ""}`)
        .reverse()
        .join(", ");
      if (line !== lastSeen || Date.now() - lastLog > 60_000) {
        log(`votes ${votes}; rounds: ${line || "none yet"}`);
        lastLog = Date.now();
      }
      lastSeen = line;
      if (opts.signal?.aborted) stoppedBecause = "interrupted";
      else if (finished.length >= opts.rounds) stoppedBecause = `${finished.length} rounds finished`;
      else if (Date.now() - started > trainingMs)
        stoppedBecause = `time limit of ${opts.minutes} minutes${ratingMinutes > 0 ? ` (training for the first ${opts.minutes - ratingMinutes})` : ""}`;
    }

    let ratingVotes = 0;
    let reserveImported = 0;
    if (ratingMinutes > 0 && !opts.signal?.aborted) {
      // Rating phase: the loop stops, and the arena compares the serving version with earlier ones.
      rating = true;
      await admin.mutation("rounds.updateSettings", loopPatch({ autoTrain: false }));
      for (const r of await admin.query<RoundRow[]>("rounds.list", { limit: 200 })) {
        if (FINISHED.has(r.status)) continue;
        await admin.mutation("rounds.cancel", { roundId: r.id }).then(
          () => log(`round #${r.number} cancelled for the rating phase`),
          (e: unknown) => log(`could not cancel round #${r.number}: ${(e as Error).message}`),
        );
      }
      await admin.mutation("arena.updateSettings", { arena: { [ARENA.arena.onPolicyShare]: 0 } });
      reserveImported = await importPrompts(admin, plan.reserve, { promptSet, what: "rating reserve", log });
      const before = votes;
      log(`rating phase: ${ratingMinutes} minutes of battles between the serving version and earlier ones`);
      await sleep(ratingMinutes * 60_000, opts.signal);
      ratingVotes = votes - before;
      log(`rating phase done: ${ratingVotes} votes`);
    }
    controller.abort();
    const labelers = await labeling;
    log(`stopped: ${stoppedBecause}; ${votes} votes`);

    const outcome = await readOutcome({
      admin,
      db,
      promptSet,
      evalPrompts: opts.evalPrompts,
      seed: opts.seed,
      labelers,
      started,
      log,
    });

    // Stop the web server and trainer first: measurement gets the CPU to itself.
    if (product) await product.stop();
    product = undefined;

    const versions = await scoreVersions(outcome, {
      evalSamplesPerPrompt: opts.evalSamplesPerPrompt,
      evalMaxNewTokens: opts.evalMaxNewTokens,
      corpusWindows: opts.corpusWindows,
      seed: opts.seed,
      log,
    });
    const { rounds, labelerQuality, votesUntilFirstPromotion, minutes } = outcome;
    return {
      versions,
      rounds,
      labelers,
      labelerQuality,
      votes,
      minutes,
      stoppedBecause,
      ratingVotes,
      decisiveVotes,
      votesUntilFirstPromotion,
      rootKlBudget,
      settings,
      prompts: { training: plan.training.length, reserve: plan.reserve.length, reserveImported },
    };
  } finally {
    controller.abort();
    if (product) await product.stop();
    else if (opts.url) await db.$disconnect().catch(() => {});
  }
}
