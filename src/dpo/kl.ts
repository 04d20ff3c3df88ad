// How far a trained policy moved, in nats per completion, where it matters: completions of the
// length the arena serves, on held-out pool prompts.
//
// Estimator: sample y ~ π_θ(·|x), then sum over positions the EXACT KL between the two models'
// next-token distributions along y:  Σ_t KL(π_θ(·|x,y<t) ‖ π_ref(·|x,y<t)).  Its expectation
// is the sequence KL(π_θ‖π_ref) (chain rule), like the plain Monte Carlo log π_θ(y) − log π_ref(y),
// but the sampling noise of the token at each position is integrated out, so its variance is
// much lower. Standard errors are clustered by prompt (samples of one prompt are correlated)
// and the gates use the upper confidence bound.
//
// The figure at the served sampling settings compares what a labeler sees: the policy's
// tempered and top-k/top-p filtered distribution, against the reference at the same temperature
// renormalised over the SAME tokens (the policy's nucleus). Filtering the reference by its own
// nucleus would make the KL infinite whenever the policy's nucleus reaches one token outside
// the reference's; leaving it unfiltered would report a drift for an unchanged model.
import { type CausalLM, nextTokenLogprobs, nucleus, type ScoreItem, sample, type Tokenizer } from "../lm/index.ts";
import { clusteredMean, oneSided } from "./stats.ts";

export interface KLPrompts {
  tokenizer: Tokenizer;
  /** prompts (token ids) the policy is sampled on; each is its own cluster */
  promptIds: number[][];
}

export interface SamplingSettings {
  maxNewTokens: number;
  temperature: number;
  topP?: number;
  topK?: number;
}

export interface KLEstimate {
  /** mean KL in nats per completion */
  kl: number;
  /** standard error, clustered by prompt */
  stderr: number;
  /** one-sided upper confidence bound (what the gates compare with a budget) */
  ucb: number;
  /** samples and prompts (clusters) */
  n: number;
  prompts: number;
  /** mean completion length in tokens */
  meanTokens: number;
}

/**
 * Σ_t KL(p_t ‖ q_t) over the rows of two (L × V) log-prob arrays. Tokens p gives no mass
 * (log-prob −∞, or below e^−80) add nothing; a total that rounding leaves a hair below 0 counts
 * 0, since KL is never negative. The one definition: the gates and the sim's measurements use it.
 */
export function exactSequenceKL(pRows: Float32Array, qRows: Float32Array, V: number): number {
  if (pRows.length !== qRows.length || pRows.length % V !== 0)
    throw new Error(`exactSequenceKL: shapes differ (${pRows.length} vs ${qRows.length}, V ${V})`);
  let kl = 0;
  for (let o = 0; o < pRows.length; o += V) {
    for (let v = 0; v < V; v++) {
      const lp = pRows[o + v];
      if (lp > -80) kl += Math.exp(lp) * (lp - qRows[o + v]);
    }
  }
  // Clamped once, not per row: per-row clamping would keep each row's positive rounding noise
  // and drop the negative, a bias that grows with the length.
  return Math.max(0, kl);
}

/** log π_θ(y) − log π_ref(y) along y from the same rows: the plain Monte Carlo term. */
export function monteCarloSequenceKL(pRows: Float32Array, qRows: Float32Array, V: number, ids: readonly number[]): number {
  let d = 0;
  for (let t = 0; t < ids.length; t++) d += pRows[t * V + ids[t]] - qRows[t * V + ids[t]];
  return d;
}

/**
 * A row of log-probs (T = 1) turned into the served distribution: log-probs / temperature,
 * renormalised, then (when `filter`) restricted to top-k and the top-p nucleus the sampler
 * uses, renormalised again. Excluded tokens get −∞.
 */
export function servedLogDist(row: Float32Array, s: { temperature: number; topP?: number; topK?: number }, filter: boolean): Float32Array {
  const V = row.length;
  const out = new Float32Array(V);
  let mx = -Infinity;
  for (let i = 0; i < V; i++) mx = Math.max(mx, row[i] / s.temperature);
  let z = 0;
  for (let i = 0; i < V; i++) z += Math.exp(row[i] / s.temperature - mx);
  const lse = mx + Math.log(z);
  for (let i = 0; i < V; i++) out[i] = row[i] / s.temperature - lse;
  const useK = filter && s.topK !== undefined && s.topK > 0 && s.topK < V;
  const useP = filter && s.topP !== undefined && s.topP < 1;
  if (!useK && !useP) return out;
  // The kept tokens and their order depend only on the tempered row; `out` is row / T shifted.
  const kept = nucleus(out, 1, s.topK, s.topP);
  const filtered = new Float32Array(V).fill(-Infinity);
  const mass = kept.ids.reduce((a, i) => a + Math.exp(out[i]), 0);
  for (const i of kept.ids) filtered[i] = out[i] - Math.log(mass);
  return filtered;
}

function toServed(rows: Float32Array, V: number, s: SamplingSettings): Float32Array {
  const out = new Float32Array(rows.length);
  for (let o = 0; o < rows.length; o += V) out.set(servedLogDist(rows.subarray(o, o + V), s, true), o);
  return out;
}

/** The reference's tempered rows renormalised over the tokens the policy's rows keep. */
function onSupport(refRows: Float32Array, policyServed: Float32Array, V: number, temperature: number): Float32Array {
  const out = new Float32Array(refRows.length).fill(-Infinity);
  for (let o = 0; o < refRows.length; o += V) {
    let mx = -Infinity;
    for (let v = 0; v < V; v++) if (policyServed[o + v] > -Infinity) mx = Math.max(mx, refRows[o + v] / temperature);
    let z = 0;
    for (let v = 0; v < V; v++) if (policyServed[o + v] > -Infinity) z += Math.exp(refRows[o + v] / temperature - mx);
    const lse = mx + Math.log(z);
    for (let v = 0; v < V; v++) if (policyServed[o + v] > -Infinity) out[o + v] = refRows[o + v] / temperature - lse;
  }
  return out;
}

export function summarizeKL(
  values: readonly number[],
  clusters: readonly number[],
  lengths: readonly number[],
  confidence: number,
): KLEstimate {
  const m = clusteredMean(values, clusters);
  const { upper } = oneSided(m, confidence);
  return {
    kl: m.mean,
    stderr: m.stderr,
    ucb: upper,
    n: m.n,
    prompts: m.clusters,
    meanTokens: lengths.reduce((a, b) => a + b, 0) / Math.max(1, lengths.length),
  };
}

export interface MeasureKLOptions {
  /** sampling the arena serves with; maxNewTokens is the served length */
  served: SamplingSettings;
  samplesPerPrompt: number;
  seed: number;
  batchSize: number;
  confidence: number;
  /** also measure at the served temperature / top-p (default true) */
  atServedSettings?: boolean;
  signal?: AbortSignal;
}

export interface KLReport {
  /** per compared model, KL(policy‖model) at temperature 1 (the objective's KL) */
  t1: Record<string, KLEstimate>;
  /** the same at the served sampling settings, or null when temperature is 0 (greedy) */
  served: Record<string, KLEstimate> | null;
}

async function sampleItems(
  policy: CausalLM,
  prompts: KLPrompts,
  s: SamplingSettings,
  perPrompt: number,
  seed: number,
  signal?: AbortSignal,
) {
  const items: ScoreItem[] = [];
  const clusters: number[] = [];
  for (let i = 0; i < prompts.promptIds.length; i++) {
    signal?.throwIfAborted();
    const promptIds = prompts.promptIds[i];
    const room = policy.config.nPositions - promptIds.length;
    if (room < 1)
      throw new Error(`KL prompt ${i} has ${promptIds.length} tokens, leaving no room in the model context of ${policy.config.nPositions}`);
    const out = await sample(policy, prompts.tokenizer, {
      promptIds,
      n: perPrompt,
      temperature: s.temperature,
      topP: s.topP,
      topK: s.topK,
      maxNewTokens: Math.min(s.maxNewTokens, room),
      seed: seed * 7919 + i,
      signal,
    });
    for (const o of out) {
      if (o.ids.length === 0) continue;
      items.push({ promptIds, completionIds: o.ids });
      clusters.push(i);
    }
  }
  if (items.length === 0) throw new Error("KL: every sampled completion was empty; nothing to measure");
  return { items, clusters };
}

/**
 * KL(policy ‖ each of `others`) per completion at the served length, T = 1 and at the served
 * settings. One set of samples serves every compared model, so the figures are comparable.
 */
export async function measureKL(
  policy: CausalLM,
  others: Record<string, CausalLM>,
  prompts: KLPrompts,
  o: MeasureKLOptions,
): Promise<KLReport> {
  const V = policy.config.vocabSize;
  const names = Object.keys(others);
  const run = async (s: SamplingSettings, served: boolean) => {
    const { items, clusters } = await sampleItems(policy, prompts, s, o.samplesPerPrompt, o.seed + (served ? 104_729 : 0), o.signal);
    const values: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
    for (let start = 0; start < items.length; start += o.batchSize) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      o.signal?.throwIfAborted();
      const chunk = items.slice(start, start + o.batchSize);
      const p = nextTokenLogprobs(policy, chunk, { batchSize: o.batchSize });
      const pServed = served ? p.map((rows) => toServed(rows, V, s)) : p;
      for (const name of names) {
        const model = others[name];
        const q = model === policy ? p : nextTokenLogprobs(model, chunk, { batchSize: o.batchSize });
        chunk.forEach((_, j) => {
          const qRows = served ? onSupport(q[j], pServed[j], V, s.temperature) : q[j];
          values[name].push(exactSequenceKL(pServed[j], qRows, V));
        });
      }
    }
    const lengths = items.map((it) => it.completionIds.length);
    return Object.fromEntries(names.map((n) => [n, summarizeKL(values[n], clusters, lengths, o.confidence)]));
  };
  const t1 = await run({ maxNewTokens: o.served.maxNewTokens, temperature: 1 }, false);
  const servedOn = (o.atServedSettings ?? true) && o.served.temperature > 0;
  return { t1, served: servedOn ? await run(o.served, true) : null };
}
