// What a sim run measured, once labeling has stopped: the rounds and promoted versions as the
// product reports them, ratings from the arena's votes, the product's labeler estimates, and
// then (with the product stopped, so measurement has the CPU) every promoted version's reward
// and KL on held-out prompts.
import type { PrismaClient } from "../../server/db/client.ts";
import type { ProductClient } from "../client.ts";
import type { LabelerStats } from "../driver.ts";
import { evaluateVersions, ratingsFromVotes } from "../evaluate.ts";
import { type EstimatedLabeler, type FlagScore, type LabelerEstimateRow, labelerEstimates } from "../quality-report.ts";
import type { ReportRound, ReportVersion } from "../report.ts";
import { sentimentPrefixes } from "../sentiment-prompts.ts";
import { arenaVotes, checkpointDirOf, decisiveVotesUntil, heldOutPrompts } from "./inspect.ts";
import { type RoundRow, roundReport } from "./rounds.ts";
import { ARENA } from "./settings-names.ts";

interface VersionRow {
  id: number;
  name: string;
  status: string;
  checkpointUri: string;
  promotedAt: Date | null;
  producedBy: { number: number } | null;
}

/** What the product says after labeling (read while it still runs). */
export interface Outcome {
  rounds: ReportRound[];
  promoted: VersionRow[];
  /** the held-out prompts the versions are measured on */
  prompts: string[];
  ratings: ReturnType<typeof ratingsFromVotes>;
  /** the arena's sampling settings (the served temperature, top-p, top-k, length) */
  sampling: Record<string, number>;
  votesUntilFirstPromotion: number | null;
  /** minutes from `started` until the outcome was read */
  minutes: number;
  labelerQuality: { rows: LabelerEstimateRow[]; flags: FlagScore } | null;
}

export async function readOutcome(opts: {
  admin: ProductClient;
  db: PrismaClient;
  promptSet: "sentiment" | "book";
  evalPrompts: number;
  seed: number;
  labelers: LabelerStats[];
  started: number;
  log: (msg: string) => void;
}): Promise<Outcome> {
  const { admin, db, log } = opts;
  const roundRows = (await admin.query<RoundRow[]>("rounds.list", { limit: 200 })).sort((a, b) => a.number - b.number);
  const rounds = await Promise.all(roundRows.map((r) => roundReport(admin, r)));
  const versionRows = (await admin.query<VersionRow[]>("rounds.versions")).sort((a, b) => a.id - b.id);
  const promoted = versionRows.filter((v) => v.promotedAt !== null);
  // Sentiment evaluation prefixes are never imported, so never served; the seed's held-out
  // prompts are marked so in the database.
  const prompts =
    opts.promptSet === "sentiment"
      ? sentimentPrefixes(opts.evalPrompts, "eval", { seed: opts.seed })
      : await heldOutPrompts(db, opts.evalPrompts);
  const ratings = ratingsFromVotes(await arenaVotes(db), { seed: opts.seed });
  const sampling = (await admin.query<{ sampling: Record<string, number> }>("arena.settings")).sampling;
  const firstPromotion = promoted
    .filter((v) => v.producedBy !== null && v.promotedAt !== null)
    .map((v) => new Date(v.promotedAt!).getTime())
    .sort((a, b) => a - b)[0];
  const votesUntilFirstPromotion = firstPromotion === undefined ? null : await decisiveVotesUntil(db, new Date(firstPromotion));
  const minutes = (Date.now() - opts.started) / 60_000;
  // The product's own estimate of every labeler, read through its admin API like an admin would.
  const labelerQuality = await admin.query<{ labelers: EstimatedLabeler[] }>("quality.labelers").then(
    (q) => labelerEstimates(opts.labelers, q.labelers),
    (err: unknown) => {
      log(`labeler quality could not be read: ${(err as Error).message}`);
      return null;
    },
  );
  return { rounds, promoted, prompts, ratings, sampling, votesUntilFirstPromotion, minutes, labelerQuality };
}

/** Every promoted version's reward and KL on the held-out prompts, with its rating and round. */
export async function scoreVersions(
  outcome: Outcome,
  opts: { evalSamplesPerPrompt: number; evalMaxNewTokens?: number; corpusWindows?: number; seed: number; log: (msg: string) => void },
): Promise<ReportVersion[]> {
  const { rounds, promoted, prompts, ratings, sampling } = outcome;
  opts.log(`evaluating ${promoted.length} versions on ${prompts.length} held-out prompts × ${opts.evalSamplesPerPrompt} samples`);
  const evals = await evaluateVersions(
    promoted.map((v) => ({ name: v.name, checkpointDir: checkpointDirOf(v.checkpointUri) })),
    {
      prompts,
      samplesPerPrompt: opts.evalSamplesPerPrompt,
      maxNewTokens: opts.evalMaxNewTokens ?? sampling[ARENA.sampling.maxNewTokens],
      served: {
        temperature: sampling[ARENA.sampling.temperature],
        topP: sampling[ARENA.sampling.topP],
        topK: sampling[ARENA.sampling.topK] || undefined,
      },
      corpusWindows: opts.corpusWindows,
      seed: opts.seed + 1,
      onProgress: (e) => opts.log(`  ${e.name}: mean reward ${e.meanReward.toFixed(3)}, KL ${e.kl.toFixed(3)}`),
    },
  );
  const byResult = new Map(rounds.filter((r) => r.resultVersion).map((r) => [r.resultVersion!, r]));
  return evals.map((e) => {
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
}
