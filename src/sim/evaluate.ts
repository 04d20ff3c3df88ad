// Measurement, not labeling: how good is each policy version by the true reward, how far has it
// moved from the lineage root, and what did that cost in fluency? Loads the checkpoints
// directly and samples completions on held-out prompts (never served in the arena):
// - at the arena's served sampling settings (temperature, top-p, top-k): what labelers see, so
//   the headline reward, repetition and degenerate share are measured there;
// - at temperature 1, unfiltered: the policy itself; its reward is reported beside the served
//   one, and KL from the root is estimated on these samples (KL is a property of π, not of a
//   truncated sampler), with the exact per-token estimator (kl.ts), s.e. clustered by prompt.
// The held-out corpus loss (corpus-loss.ts) needs no samples.
import {
  type CausalLM,
  encodePrompt,
  loadCheckpoint,
  SampleBatcher,
  type SampledCompletion,
  type ScoreItem,
  type Tokenizer,
} from "../lm/index.ts";
import { type BattleRecord, leaderboard } from "../rating/index.ts";
import { heldoutCorpusLoss } from "./corpus-loss.ts";
import { clusteredMean, exactTokenKL, monteCarloKL } from "./kl.ts";
import { isDegenerate, repeatedWordShare, repetitionRate } from "./repetition.ts";
import { trueReward } from "./reward.ts";

export interface VersionToEvaluate {
  name: string;
  checkpointDir: string;
}

export interface VersionEvaluation {
  name: string;
  /** default ("distinct") true reward at the served sampling settings */
  meanReward: number;
  rewardStd: number;
  /** standard error of meanReward, clustered by prompt */
  rewardStderr: number;
  /** the same reward at temperature 1, unfiltered */
  meanRewardT1: number;
  rewardStdT1: number;
  /** the old summed reward (every match counted, no penalty) at the served settings */
  meanSummedReward: number;
  /** share of repeated word 3-grams in the served completions (repetition.ts) */
  repetitionRate: number;
  /** share of words repeating an earlier word of the same completion, served completions */
  repeatedWordShare: number;
  /** share of served completions a labeler would call degenerate */
  degenerateShare: number;
  /** KL(π‖root) in nats per completion at the served length, exact per-token estimator */
  klFromRoot: number;
  klFromRootStderr: number;
  /** the plain Monte Carlo estimate log π(y) − log π_root(y) on the same samples */
  klMonteCarlo: number;
  klMonteCarloStderr: number;
  /** = klFromRoot (kept for readers of older reports) */
  kl: number;
  klStderr: number;
  /** nats per byte on the pretraining held-out text (null when not measured) */
  heldoutCorpusLoss: number | null;
  samples: number;
  /** share of served completions with a lexicon word at all */
  nonZeroShare: number;
  /** the first few served completions, to read */
  examples: { prompt: string; text: string }[];
}

export interface SamplingSettings {
  temperature: number;
  topP?: number;
  topK?: number;
}

export interface EvaluateOptions {
  prompts: string[];
  samplesPerPrompt: number;
  /** the served completion length: samples and KL are measured at this length */
  maxNewTokens: number;
  seed: number;
  /** the arena's sampling settings; default temperature 1 unfiltered (then one set of samples serves both) */
  served?: SamplingSettings;
  /** windows of held-out corpus text to score (0: skip the corpus loss) */
  corpusWindows?: number;
  scoreBatchSize?: number;
  onProgress?: (e: { name: string; meanReward: number; kl: number }) => void;
}

function meanStd(xs: number[]): { mean: number; std: number } {
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const variance = xs.length > 1 ? xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length - 1) : 0;
  return { mean, std: Math.sqrt(variance) };
}

interface Samples {
  items: ScoreItem[];
  texts: string[];
  /** index of each sample's prompt */
  prompt: number[];
}

async function sampleItems(
  model: CausalLM,
  tok: Tokenizer,
  opts: EvaluateOptions,
  sampling: SamplingSettings,
  seedOffset: number,
): Promise<Samples> {
  const prompts = opts.prompts.map((text, i) => {
    const promptIds = encodePrompt(tok, text);
    const room = model.config.nPositions - promptIds.length;
    if (room < 1) throw new Error(`evaluation prompt ${i} has ${promptIds.length} tokens; the model context is ${model.config.nPositions}`);
    return { promptIds, room };
  });
  // All prompts go through one continuous batch (the batcher gives each request exactly what
  // `sample()` gives it alone), so a version is measured several times faster than prompt by prompt.
  const batcher = new SampleBatcher();
  let outs: SampledCompletion[][];
  try {
    // The same seed for every version: differences between versions are not sampling luck alone.
    outs = await Promise.all(
      prompts.map(({ promptIds, room }, i) =>
        batcher.sample(model, tok, {
          promptIds,
          n: opts.samplesPerPrompt,
          temperature: sampling.temperature,
          topP: sampling.topP,
          topK: sampling.topK,
          maxNewTokens: Math.min(opts.maxNewTokens, room),
          seed: opts.seed * 7919 + i + seedOffset,
        }),
      ),
    );
  } finally {
    await batcher.close();
  }
  const out: Samples = { items: [], texts: [], prompt: [] };
  for (const [i, samples] of outs.entries()) {
    for (const s of samples) {
      out.texts.push(s.text);
      out.prompt.push(i);
      out.items.push({ promptIds: prompts[i].promptIds, completionIds: s.ids });
    }
  }
  return out;
}

const UNFILTERED: SamplingSettings = { temperature: 1 };

/** One version's numbers; `root` is the lineage root (v0) that KL is measured from. */
export async function measureModel(
  name: string,
  model: CausalLM,
  tokenizer: Tokenizer,
  root: CausalLM,
  opts: EvaluateOptions,
): Promise<VersionEvaluation> {
  const t1 = await sampleItems(model, tokenizer, opts, UNFILTERED, 0);
  const served = opts.served ? await sampleItems(model, tokenizer, opts, opts.served, 104_729) : t1;
  const rewards = served.texts.map((t) => trueReward(t));
  const { mean, std } = meanStd(rewards);
  const rewardsT1 = t1.texts.map((t) => trueReward(t));
  const r1 = meanStd(rewardsT1);

  let klExact = { mean: 0, stderr: 0 };
  let klMc = { mean: 0, stderr: 0 };
  const scorable = t1.items.map((it, i) => ({ it, i })).filter(({ it }) => it.completionIds.length > 0);
  if (model !== root && scorable.length > 0) {
    const items = scorable.map((s) => s.it);
    const clusters = scorable.map((s) => t1.prompt[s.i]);
    klExact = clusteredMean(exactTokenKL(model, root, items, { batchSize: opts.scoreBatchSize ?? 8 }), clusters);
    klMc = clusteredMean(monteCarloKL(model, root, items, { batchSize: opts.scoreBatchSize ?? 8 }), clusters);
  }
  const windows = opts.corpusWindows ?? 32;
  return {
    name,
    meanReward: mean,
    rewardStd: std,
    rewardStderr: clusteredMean(rewards, served.prompt).stderr,
    meanRewardT1: r1.mean,
    rewardStdT1: r1.std,
    meanSummedReward: meanStd(served.texts.map((t) => trueReward(t, "summed"))).mean,
    repetitionRate: repetitionRate(served.texts),
    repeatedWordShare: repeatedWordShare(served.texts),
    degenerateShare: served.texts.filter(isDegenerate).length / served.texts.length,
    klFromRoot: klExact.mean,
    klFromRootStderr: klExact.stderr,
    klMonteCarlo: klMc.mean,
    klMonteCarloStderr: klMc.stderr,
    kl: klExact.mean,
    klStderr: klExact.stderr,
    heldoutCorpusLoss: windows > 0 ? heldoutCorpusLoss(model, { windows }) : null,
    samples: rewards.length,
    nonZeroShare: served.texts.filter((t) => trueReward(t, "summed") !== 0).length / served.texts.length,
    examples: served.texts.slice(0, 6).map((text, i) => ({ prompt: opts.prompts[served.prompt[i]], text })),
  };
}

/** Evaluates `versions` in order; the first one is the lineage root (v0) KL is measured from. */
export async function evaluateVersions(versions: VersionToEvaluate[], opts: EvaluateOptions): Promise<VersionEvaluation[]> {
  if (versions.length === 0) throw new Error("evaluateVersions: no versions to evaluate");
  if (opts.prompts.length === 0) throw new Error("evaluateVersions: no held-out prompts (mark some prompts heldOut)");
  const ref = await loadCheckpoint(versions[0].checkpointDir);
  const results: VersionEvaluation[] = [];
  try {
    for (const [k, v] of versions.entries()) {
      const loaded = k === 0 ? ref : await loadCheckpoint(v.checkpointDir);
      try {
        const r = await measureModel(v.name, loaded.model, loaded.tokenizer, ref.model, opts);
        results.push(r);
        opts.onProgress?.({ name: v.name, meanReward: r.meanReward, kl: r.kl });
      } finally {
        if (k > 0) loaded.model.dispose();
      }
    }
  } finally {
    ref.model.dispose();
  }
  return results;
}

export interface ArenaVote {
  versionA: string;
  versionB: string;
  choice: "A" | "B" | "TIE" | "BOTH_BAD";
  at: Date;
}

export interface VersionRating {
  rating: number;
  ci: [number, number];
  rank: number;
  battles: number;
}

/**
 * Bradley–Terry ratings (FastChat method, bootstrap CIs) from the arena's votes on battles
 * between two different versions; battles of a version against itself do not rate it.
 */
export function ratingsFromVotes(votes: ArenaVote[], opts: { seed?: number; rounds?: number } = {}): Record<string, VersionRating> {
  const winner = { A: "model_a", B: "model_b", TIE: "tie", BOTH_BAD: "tie (bothbad)" } as const;
  const battles: BattleRecord[] = votes
    .filter((v) => v.versionA !== v.versionB)
    .map((v) => ({ modelA: v.versionA, modelB: v.versionB, winner: winner[v.choice], tstamp: v.at.getTime() / 1000 }));
  if (battles.length === 0) return {};
  // A small ridge keeps a version that never lost (common with few votes) finite.
  const board = leaderboard(battles, { seed: opts.seed ?? 0, rounds: opts.rounds ?? 100, l2: 1e-3 });
  return Object.fromEntries(board.rows.map((r) => [r.model, { rating: r.rating, ci: r.ci, rank: r.rank, battles: r.battles }]));
}
