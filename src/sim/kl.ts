// KL(π‖π_root) per completion, the drift a version has accumulated from its lineage root.
//
// Exact per-token estimator: for a completion y ~ π (temperature 1, unfiltered) of prompt x,
//   k(y) = Σ_t KL( π(·|x, y<t) ‖ π_root(·|x, y<t) ),
// the full next-token KL at every position, summed. E_y~π[k(y)] is the sequence KL, as is the
// plain Monte Carlo estimate log π(y) − log π_root(y); k(y) has lower variance because it
// averages over each position's next token instead of using the one sampled.
// Standard errors are clustered by prompt: samples of one prompt share its context and are not
// independent, so the s.e. comes from the spread of per-prompt means.
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

/** Σ_t KL(p_t‖q_t) over the rows of two (T × V) log-softmax arrays. */
export function summedTokenKL(logp: Float32Array, logq: Float32Array, V: number): number {
  if (logp.length !== logq.length || logp.length % V !== 0)
    throw new Error(`summedTokenKL: shapes differ (${logp.length} vs ${logq.length}, V ${V})`);
  let kl = 0;
  for (let o = 0; o < logp.length; o += V) {
    let row = 0;
    for (let v = 0; v < V; v++) {
      const lp = logp[o + v];
      if (lp === -Infinity) continue;
      row += Math.exp(lp) * (lp - logq[o + v]);
    }
    // Rounding can leave a row a hair below 0; KL is not negative.
    kl += Math.max(0, row);
  }
  return kl;
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
    for (let i = 0; i < part.length; i++) out.push(summedTokenKL(p[i], q[i], V));
  }
  return out;
}

/** The plain Monte Carlo estimate per item: log π(y) − log π_root(y). */
export function monteCarloKL(policy: CausalLM, root: CausalLM, items: readonly ScoreItem[], opts: { batchSize?: number } = {}): number[] {
  const lp = scoreCompletions(policy, [...items], { batchSize: opts.batchSize ?? 8 }).sum;
  const lq = policy === root ? lp : scoreCompletions(root, [...items], { batchSize: opts.batchSize ?? 8 }).sum;
  return lp.map((x, i) => x - lq[i]);
}
