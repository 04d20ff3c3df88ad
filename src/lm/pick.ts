// Token picking: one token from one row of logits at a temperature, optionally within top-k /
// top-p (nucleus.ts chooses the kept set), and the k most likely tokens for OpenAI's
// `top_logprobs`. Both report temperature-1 log-probs, the ones DPO and the API speak of.
import { nucleus } from "./nucleus.ts";

let pickScratch = new Float64Array(0);

/** Chooses a token from one row of logits; returns it with its temperature-1 log-prob. */
export function pickToken(
  logits: Float32Array,
  opts: { temperature: number; topK?: number; topP?: number },
  rand: () => number,
): { id: number; logprob: number } {
  const V = logits.length;
  let mx = -Infinity,
    arg = 0;
  for (let i = 0; i < V; i++)
    if (logits[i] > mx) {
      mx = logits[i];
      arg = i;
    }
  let z = 0;
  for (let i = 0; i < V; i++) z += Math.exp(logits[i] - mx);
  const lse = mx + Math.log(z);
  if (opts.temperature === 0) return { id: arg, logprob: logits[arg] - lse };
  const tau = opts.temperature;
  const filtered = (opts.topK && opts.topK > 0 && opts.topK < V) || (opts.topP !== undefined && opts.topP < 1);
  if (!filtered) {
    // the common case, without the index arrays below: the same weights, summed and walked in id order
    if (pickScratch.length < V) pickScratch = new Float64Array(V);
    const w = pickScratch;
    let total = 0;
    for (let i = 0; i < V; i++) total += w[i] = Math.exp((logits[i] - mx) / tau);
    let u = rand() * total;
    for (let i = 0; i < V; i++) {
      u -= w[i];
      if (u < 0) return { id: i, logprob: logits[i] - lse };
    }
    return { id: V - 1, logprob: logits[V - 1] - lse };
  }
  // The kept tokens most likely first, as sorting the whole row would give them, without sorting
  // it (nucleus.ts: ~10 ms a token at a 49k vocabulary otherwise).
  const { ids: order, weights: w } = nucleus(logits, tau, opts.topK, opts.topP);
  const total = w.reduce((a, b) => a + b, 0);
  let u = rand() * total;
  let pick = order[order.length - 1];
  for (let j = 0; j < order.length; j++) {
    u -= w[j];
    if (u < 0) {
      pick = order[j];
      break;
    }
  }
  return { id: pick, logprob: logits[pick] - lse };
}

/** The k most likely tokens of one row of logits with their temperature-1 log-probs, most likely first (ties by id). */
export function topLogprobs(logits: Float32Array, k: number): { id: number; logprob: number }[] {
  const V = logits.length;
  let mx = -Infinity;
  for (let i = 0; i < V; i++) if (logits[i] > mx) mx = logits[i];
  let z = 0;
  for (let i = 0; i < V; i++) z += Math.exp(logits[i] - mx);
  const lse = mx + Math.log(z);
  // the k most likely, ties by id: the top-k rule the sampler uses (nucleus.ts)
  const best = k > 0 ? nucleus(logits, 1, k).ids : [];
  return best.map((id) => ({ id, logprob: logits[id] - lse }));
}
