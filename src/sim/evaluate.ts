// Measurement, not labeling: how good is each policy version by the true reward, and how far has
// it moved from the reference? Loads the checkpoints directly, samples completions on the
// held-out prompts (never served in the arena) and scores them; KL(π‖π_ref) is the Monte-Carlo
// mean of log π(y) − log π_ref(y) over those same samples (y ~ π at temperature 1, unfiltered,
// so the estimate is of the policy itself and not of a truncated sampler).
import { encodePrompt, loadCheckpoint, SampleBatcher, scoreCompletions, type GPT, type SampledCompletion, type ScoreItem, type Tokenizer } from "../lm/index.ts";
import { estimateKL } from "../dpo/index.ts";
import { leaderboard, type BattleRecord } from "../rating/index.ts";
import { trueReward } from "./reward.ts";

export interface VersionToEvaluate {
  name: string;
  checkpointDir: string;
}

export interface VersionEvaluation {
  name: string;
  meanReward: number;
  rewardStd: number;
  /** standard error of meanReward */
  rewardStderr: number;
  kl: number;
  klStderr: number;
  samples: number;
  /** share of completions with a non-zero true reward (how often the lexicon is hit at all) */
  nonZeroShare: number;
}

export interface EvaluateOptions {
  prompts: string[];
  samplesPerPrompt: number;
  maxNewTokens: number;
  seed: number;
  scoreBatchSize?: number;
  onProgress?: (e: { name: string; meanReward: number; kl: number }) => void;
}

function meanStd(xs: number[]): { mean: number; std: number } {
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const variance = xs.length > 1 ? xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length - 1) : 0;
  return { mean, std: Math.sqrt(variance) };
}

async function sampleItems(model: GPT, tok: Tokenizer, opts: EvaluateOptions): Promise<{ items: ScoreItem[]; texts: string[]; logps: number[] }> {
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
        batcher.sample(model, tok, { promptIds, n: opts.samplesPerPrompt, temperature: 1, maxNewTokens: Math.min(opts.maxNewTokens, room), seed: opts.seed * 7919 + i }),
      ),
    );
  } finally {
    await batcher.close();
  }
  const items: ScoreItem[] = [];
  const texts: string[] = [];
  const logps: number[] = [];
  for (const [i, out] of outs.entries()) {
    for (const s of out) {
      texts.push(s.text);
      logps.push(s.logprob);
      items.push({ promptIds: prompts[i].promptIds, completionIds: s.ids });
    }
  }
  return { items, texts, logps };
}

/**
 * One version's numbers: true reward of samples on the prompts and, unless `model` is the
 * reference itself, the sampled KL(model‖reference).
 */
export async function measureModel(name: string, model: GPT, tokenizer: Tokenizer, reference: GPT, opts: EvaluateOptions): Promise<VersionEvaluation> {
  const { items, texts, logps } = await sampleItems(model, tokenizer, opts);
  const rewards = texts.map(trueReward);
  const { mean, std } = meanStd(rewards);
  let kl = 0;
  let klStderr = 0;
  const scorable = items.map((it, i) => ({ it, i })).filter(({ it }) => it.completionIds.length > 0);
  if (model !== reference && scorable.length > 0) {
    const refLogps = scoreCompletions(reference, scorable.map((s) => s.it), { batchSize: opts.scoreBatchSize ?? 8 }).sum;
    const est = estimateKL(scorable.map((s) => logps[s.i]), refLogps);
    kl = est.kl;
    klStderr = est.stderr;
  }
  return {
    name,
    meanReward: mean,
    rewardStd: std,
    rewardStderr: std / Math.sqrt(rewards.length),
    kl,
    klStderr,
    samples: rewards.length,
    nonZeroShare: rewards.filter((x) => x !== 0).length / rewards.length,
  };
}

/** Evaluates `versions` in order; the first one is the reference π_ref (v0). */
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
