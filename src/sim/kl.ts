// KL(π‖π_root) per completion, the drift a version has accumulated from its lineage root.
//
// Exact per-token estimator: for a completion y ~ π (temperature 1, unfiltered) of prompt x,
//   k(y) = Σ_t KL( π(·|x, y<t) ‖ π_root(·|x, y<t) ),
// the full next-token KL at every position, summed. E_y~π[k(y)] is the sequence KL, as is the
// plain Monte Carlo estimate log π(y) − log π_root(y); k(y) has lower variance because it
// averages over each position's next token instead of using the one sampled.
// Standard errors are clustered by prompt: samples of one prompt share its context and are not
// independent, so the s.e. comes from the spread of per-prompt means.
import { exactSequenceKL } from "../dpo/kl.ts";
import { clusteredMean as clusterRobustMean } from "../dpo/stats.ts";
import { type CausalLM, nextTokenLogprobs, type ScoreItem, scoreCompletions } from "../lm/index.ts";

export interface ClusteredMean {
  mean: number;
  /** standard error from the per-prompt means (0 with one prompt) */
  stderr: number;
  prompts: number;
  samples: number;
}

/**
 * Mean of `values` with a standard error clustered by `cluster` (one key per value): the gates'
 * cluster-robust estimate (src/dpo/stats.ts), reported the sim's way. With one prompt there is no
 * spread between prompts to estimate from and the sim reports 0 where the gates say NaN.
 */
export function clusteredMean(values: readonly number[], cluster: readonly (string | number)[]): ClusteredMean {
  if (values.length === 0 || values.length !== cluster.length) {
    throw new Error(`clusteredMean: need one cluster key per value (got ${values.length} values, ${cluster.length} keys)`);
  }
  const m = clusterRobustMean(values, cluster);
  return { mean: m.mean, stderr: m.clusters > 1 ? m.stderr : 0, prompts: m.clusters, samples: m.n };
}

/**
 * The exact per-token KL of each item (completions sampled from `policy`) against `root`, in
 * chunks so only `chunk` items' (T × V) rows are held at once.
 */
export function exactTokenKL(
  policy: CausalLM,
  root: CausalLM,
  items: readonly ScoreItem[],
  opts: { batchSize?: number; chunk?: number } = {},
): number[] {
  const V = policy.config.vocabSize;
  if (root.config.vocabSize !== V) throw new Error(`exactTokenKL: vocabularies differ (${V} vs ${root.config.vocabSize})`);
  const chunk = opts.chunk ?? 64;
  const out: number[] = [];
  for (let s = 0; s < items.length; s += chunk) {
    const part = items.slice(s, s + chunk);
    const p = nextTokenLogprobs(policy, part, { batchSize: opts.batchSize ?? 8 });
    const q = policy === root ? p : nextTokenLogprobs(root, part, { batchSize: opts.batchSize ?? 8 });
    for (let i = 0; i < part.length; i++) out.push(exactSequenceKL(p[i], q[i], V));
  }
  return out;
}

/** The plain Monte Carlo estimate per item: log π(y) − log π_root(y). */
export function monteCarloKL(policy: CausalLM, root: CausalLM, items: readonly ScoreItem[], opts: { batchSize?: number } = {}): number[] {
  const lp = scoreCompletions(policy, [...items], { batchSize: opts.batchSize ?? 8 }).sum;
  const lq = policy === root ? lp : scoreCompletions(root, [...items], { batchSize: opts.batchSize ?? 8 }).sum;
  return lp.map((x, i) => x - lq[i]);
}
