// One sim run end to end: product up (or an existing one), admin set-up over HTTP, synthetic
// labelers voting until R rounds finished or T minutes passed, then measurement of every
// promoted version and the report data.
import { randomBytes } from "node:crypto";
import { ProductClient } from "../client.ts";
import { driveLabelers, sleep, type LabelerAccount, type LabelerStats } from "../driver.ts";
import { evaluateVersions, ratingsFromVotes } from "../evaluate.ts";
import { createLabelerPool } from "../labeler.ts";
import { bookPrefixes } from "../prompts.ts";
import { sentimentPrefixes } from "../sentiment-prompts.ts";
import type { ReportRound, ReportVersion } from "../report.ts";
import { createPrismaClient, type PrismaClient } from "../../server/db/client.ts";
import { arenaVotes, checkpointDirOf, heldOutPrompts } from "./inspect.ts";
import { launchProduct, type Product, type WebMode } from "./launch.ts";

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
  /** prompts imported over HTTP so long runs do not exhaust the pool */
  extraPrompts?: number;
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
  votes: number;
  minutes: number;
  stoppedBecause: string;
  /** votes cast in the rating phase (0 when there was none) */
  ratingVotes: number;
  settings: unknown;
}

interface RoundRow {
  id: string;
  number: number;
  status: string;
  pairsTrain: number | null;
  pairsHeldout: number | null;
  config: { beta?: number } | null;
  summary: {
    seconds?: number;
    first?: Record<string, number>;
    last?: Record<string, number>;
    heldout?: { accuracy?: number; loss?: number } | null;
    kl?: { kl?: number } | null;
  } | null;
  error: string | null;
  baseVersion: { name: string } | null;
  resultVersion: { name: string; status: string } | null;
}

interface VersionRow {
  id: number;
  name: string;
  status: string;
  checkpointUri: string;
  promotedAt: Date | null;
  producedBy: { number: number } | null;
}

const FINISHED = new Set(["SUCCEEDED", "REJECTED", "FAILED", "CANCELLED"]);
const num = (x: unknown): number | null => (typeof x === "number" && Number.isFinite(x) ? x : null);

async function roundReport(admin: ProductClient, r: RoundRow): Promise<ReportRound> {
  const full = await admin.query<{ metrics: { step: number; values: Record<string, number> }[] }>("rounds.get", { roundId: r.id, afterStep: -1 });
  return {
    number: r.number,
    status: r.status,
    baseVersion: r.baseVersion?.name ?? null,
    resultVersion: r.resultVersion?.name ?? null,
    pairsTrain: r.pairsTrain,
    pairsHeldout: r.pairsHeldout,
    beta: num(r.config?.beta),
    lossFirst: num(r.summary?.first?.loss),
    lossLast: num(r.summary?.last?.loss),
    marginsLast: num(r.summary?.last?.["rewards/margins"]),
    heldoutAccuracy: num(r.summary?.heldout?.accuracy),
    heldoutLoss: num(r.summary?.heldout?.loss),
    klGate: num(r.summary?.kl?.kl),
    seconds: num(r.summary?.seconds),
    error: r.error,
    metrics: full.metrics.map((m) => ({ step: m.step, loss: m.values.loss, margins: m.values["rewards/margins"], accuracy: m.values["rewards/accuracies"] })),
  };
}

export async function runSim(opts: SimOptions): Promise<SimResult> {
  const log = opts.log ?? (() => {});
  let product: Product | undefined;
  let db: PrismaClient;
  let baseUrl: string;
  let adminCreds: { username: string; password: string };
  if (opts.url) {
    if (!opts.databaseUrl) throw new Error("--url needs --database-url (or DATABASE_URL): the evaluation reads held-out prompts and votes from the product's database");
    if (!opts.adminPassword) throw new Error("--url needs the admin password (SIM_ADMIN_PASSWORD or --admin-password) to create labelers and set the schedule");
    baseUrl = opts.url;
    db = createPrismaClient(opts.databaseUrl);
    adminCreds = { username: opts.adminUsername ?? "admin", password: opts.adminPassword };
  } else {
    product = await launchProduct({ workDir: opts.workDir, web: opts.web, houseModelDir: opts.houseModelDir, prepare: opts.prepare, tfBackend: opts.tfBackend, log });
    baseUrl = product.baseUrl;
    db = product.db;
    adminCreds = product.admin;
  }

  const started = Date.now();
  const controller = new AbortController();
  try {
    const admin = new ProductClient({ baseUrl });
    await admin.signIn(adminCreds.username, adminCreds.password);
    const settings = await admin.mutation("rounds.updateSettings", {
      schedule: { autoTrain: true, ...(opts.votesPerRound !== undefined ? { minNewPairs: opts.votesPerRound } : {}), checkIntervalSeconds: 2, ...opts.schedule },
      dpo: { ...(opts.beta !== undefined ? { beta: opts.beta } : {}), ...opts.dpo },
      ...(opts.gates ? { gates: opts.gates } : {}),
    });
    if (opts.sampling) await admin.mutation("arena.updateSettings", { sampling: opts.sampling });
    const promptSet = opts.promptSet ?? "sentiment";
    if (promptSet === "sentiment" && product) {
      const disabled = await disableServedPool(admin);
      log(`switched off ${disabled} seed prompts (battles use the sentiment prefixes only)`);
    }
    if (opts.extraPrompts) {
      const texts = promptSet === "sentiment" ? sentimentPrefixes(opts.extraPrompts, "train", { seed: opts.seed }) : bookPrefixes(opts.extraPrompts, { seed: opts.seed });
      // One labeler per prompt: a prompt two labelers judge reuses the first battle's completions,
      // which in the rating phase would be an older on-policy pair instead of a rated one.
      const report = await admin.mutation<{ added: number }>("prompts.import", { content: texts.join("\n"), filename: `sim-${promptSet}.txt`, format: "text", overlapTarget: 1 });
      log(`imported ${report.added} ${promptSet} prompts`);
    }

    const profiles = createLabelerPool({ count: opts.labelers, carelessFraction: opts.careless, temperature: opts.temperature, tieThreshold: opts.tieThreshold, seed: opts.seed });
    const tag = randomBytes(3).toString("hex");
    const accounts: LabelerAccount[] = [];
    for (const [i, profile] of profiles.entries()) {
      const account = { username: `sim-${tag}-${i}`, password: `pw-${randomBytes(9).toString("base64url")}`, profile };
      await admin.mutation("users.createLabeler", { username: account.username, password: account.password });
      accounts.push(account);
    }
    log(`${accounts.length} labelers created (${profiles.filter((p) => p.careless).length} careless); voting`);

    let votes = 0;
    const labeling = driveLabelers({
      baseUrl,
      labelers: accounts,
      thinkMs: opts.thinkMs,
      seed: opts.seed,
      signal: controller.signal,
      onVote: () => void votes++,
      onProblem: (e) => log(`labeler ${e.username}: ${e.message}`),
    });

    const ratingMinutes = opts.ratingMinutes ?? 0;
    const trainingMs = Math.max(0, opts.minutes - ratingMinutes) * 60_000;
    let stoppedBecause = "";
    let lastSeen = "";
    let lastLog = 0;
    while (!stoppedBecause) {
      await sleep(3000, opts.signal);
      const rounds = await admin.query<RoundRow[]>("rounds.list", { limit: 200 });
      const finished = rounds.filter((r) => FINISHED.has(r.status));
      const line = rounds.map((r) => `#${r.number} ${r.status}${r.resultVersion ? `→${r.resultVersion.name}` : ""}`).reverse().join(", ");
      if (line !== lastSeen || Date.now() - lastLog > 60_000) {
        log(`votes ${votes}; rounds: ${line || "none yet"}`);
        lastLog = Date.now();
      }
      lastSeen = line;
      if (opts.signal?.aborted) stoppedBecause = "interrupted";
      else if (finished.length >= opts.rounds) stoppedBecause = `${finished.length} rounds finished`;
      else if (Date.now() - started > trainingMs) stoppedBecause = `time limit of ${opts.minutes} minutes${ratingMinutes > 0 ? ` (training for the first ${opts.minutes - ratingMinutes})` : ""}`;
    }

    let ratingVotes = 0;
    if (ratingMinutes > 0 && !opts.signal?.aborted) {
      // Rating phase: the loop stops, and the arena compares the serving version with earlier ones.
      await admin.mutation("rounds.updateSettings", { schedule: { autoTrain: false } });
      for (const r of await admin.query<RoundRow[]>("rounds.list", { limit: 200 })) {
        if (FINISHED.has(r.status)) continue;
        await admin.mutation("rounds.cancel", { roundId: r.id }).then(
          () => log(`round #${r.number} cancelled for the rating phase`),
          (e: unknown) => log(`could not cancel round #${r.number}: ${(e as Error).message}`),
        );
      }
      await admin.mutation("arena.updateSettings", { arena: { onPolicyShare: 0 } });
      const before = votes;
      log(`rating phase: ${ratingMinutes} minutes of battles between the serving version and earlier ones`);
      await sleep(ratingMinutes * 60_000, opts.signal);
      ratingVotes = votes - before;
      log(`rating phase done: ${ratingVotes} votes`);
    }
    controller.abort();
    const labelers = await labeling;
    log(`stopped: ${stoppedBecause}; ${votes} votes`);

    const roundRows = (await admin.query<RoundRow[]>("rounds.list", { limit: 200 })).sort((a, b) => a.number - b.number);
    const rounds = await Promise.all(roundRows.map((r) => roundReport(admin, r)));
    const versionRows = (await admin.query<VersionRow[]>("rounds.versions")).sort((a, b) => a.id - b.id);
    const promoted = versionRows.filter((v) => v.promotedAt !== null);
    // Sentiment evaluation prefixes are never imported, so never served; the seed's held-out
    // prompts are marked so in the database.
    const prompts = promptSet === "sentiment" ? sentimentPrefixes(opts.evalPrompts, "eval", { seed: opts.seed }) : await heldOutPrompts(db, opts.evalPrompts);
    const ratings = ratingsFromVotes(await arenaVotes(db), { seed: opts.seed });
    const sampling = (await admin.query<{ sampling: { maxNewTokens: number } }>("arena.settings")).sampling;
    const minutes = (Date.now() - started) / 60_000;

    // Stop the web server and trainer first: measurement gets the CPU to itself.
    if (product) await product.stop();
    product = undefined;

    log(`evaluating ${promoted.length} versions on ${prompts.length} held-out prompts × ${opts.evalSamplesPerPrompt} samples`);
    const evals = await evaluateVersions(
      promoted.map((v) => ({ name: v.name, checkpointDir: checkpointDirOf(v.checkpointUri) })),
      {
        prompts,
        samplesPerPrompt: opts.evalSamplesPerPrompt,
        maxNewTokens: opts.evalMaxNewTokens ?? sampling.maxNewTokens,
        seed: opts.seed + 1,
        onProgress: (e) => log(`  ${e.name}: mean reward ${e.meanReward.toFixed(3)}, KL ${e.kl.toFixed(3)}`),
      },
    );
    const byResult = new Map(rounds.filter((r) => r.resultVersion).map((r) => [r.resultVersion!, r]));
    const versions: ReportVersion[] = evals.map((e) => {
      const row = promoted.find((v) => v.name === e.name)!;
      const rating = ratings[e.name];
      return {
        ...e,
        heldoutAccuracy: byResult.get(e.name)?.heldoutAccuracy ?? null,
        rating: rating?.rating ?? null,
        ratingCi: rating?.ci ?? null,
        ratingBattles: rating?.battles ?? 0,
        status: row.status,
      };
    });
    return { versions, rounds, labelers, votes, minutes, stoppedBecause, ratingVotes, settings };
  } finally {
    controller.abort();
    if (product) await product.stop();
    else if (opts.url) await db.$disconnect().catch(() => {});
  }
}

/** Switches off every enabled served prompt (the seed's pool) over the admin API; returns how many. */
async function disableServedPool(admin: ProductClient): Promise<number> {
  type Page = { total: number; prompts: { id: string; heldOut: boolean }[] };
  const served: string[] = [];
  for (let page = 0; ; page++) {
    const rows = await admin.query<Page>("prompts.list", { status: "enabled", page, pageSize: 200 });
    served.push(...rows.prompts.filter((p) => !p.heldOut).map((p) => p.id));
    if (rows.prompts.length < 200) break;
  }
  for (const promptId of served) await admin.mutation("prompts.setEnabled", { promptId, enabled: false });
  return served.length;
}

/** The issue's acceptance numbers, computed from the versions in order. */
export function summarize(versions: ReportVersion[]): Record<string, unknown> {
  if (versions.length === 0) return { versions: 0 };
  const v0 = versions[0];
  const last = versions[versions.length - 1];
  let monotonic = versions.length >= 2;
  for (let i = 1; i < versions.length; i++) if (!(versions[i].meanReward > versions[i - 1].meanReward)) monotonic = false;
  const rise = last.meanReward - v0.meanReward;
  const ciSeparated = last.ratingCi && v0.ratingCi && last !== v0 ? last.ratingCi[0] > v0.ratingCi[1] : null;
  return {
    promotedRounds: versions.length - 1,
    v0MeanReward: v0.meanReward,
    v0RewardStd: v0.rewardStd,
    lastVersion: last.name,
    lastMeanReward: last.meanReward,
    riseOverV0: rise,
    riseInV0Std: v0.rewardStd > 0 ? rise / v0.rewardStd : null,
    reachedHalfStd: v0.rewardStd > 0 ? rise >= 0.5 * v0.rewardStd : false,
    monotonic,
    lastKL: last.kl,
    lastAboveV0NonOverlappingCI: ciSeparated,
  };
}
