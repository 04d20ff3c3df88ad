// The tokens a top-k / top-p sampler keeps, without sorting the whole vocabulary.
//
// Sorting every row by probability costs O(V log V) with a JavaScript comparator: ~10 ms for a
// 49k vocabulary, paid at every sampled token and at every position of the KL gates' served
// figure. The kept tokens are always a prefix of that sorted order, and a prefix is exactly the
// set of tokens above some cut. So: take the tokens whose tempered weight is at least 2^-s of the
// largest (s = 4, 8, 16, … ; one linear scan each), sort only those, and stop as soon as they
// provably contain the answer (at least k of them for top-k; cumulative mass reaching p for
// top-p). The result is the same as sorting the whole row (ties keep id order, as a stable sort
// would), usually after one scan and a sort of a few dozen ids.

export interface Nucleus {
  /** kept token ids, most probable first (ties in id order) */
  ids: number[];
  /** their tempered weights exp((logit − max) / temperature), unnormalised */
  weights: number[];
}

/**
 * The top-k (k > 0 and k < V) then top-p (p < 1) filtered tokens of one row of logits (or
 * log-probs) at temperature `tau` > 0, in the order the sampler walks them. The top-p walk
 * normalises by the mass of the top-k set, or of the whole row without top-k, and keeps tokens
 * until the cumulative share reaches p (the token that crosses p is kept).
 */
export function nucleus(logits: ArrayLike<number>, tau: number, topK?: number, topP?: number): Nucleus {
  const V = logits.length;
  if (!(tau > 0)) throw new Error(`nucleus: temperature must be > 0, got ${tau}`);
  const useK = topK !== undefined && topK > 0 && topK < V;
  const useP = topP !== undefined && topP < 1;
  let mx = -Infinity;
  for (let i = 0; i < V; i++) if (logits[i] > mx) mx = logits[i];
  // mass of the whole row (id order), needed by top-p without top-k in the fast path
  let rowMass = 0;
  if (useP && !useK) for (let i = 0; i < V; i++) rowMass += Math.exp((logits[i] - mx) / tau);

  // Few candidates usually suffice: tokens within 2^-16 of the most probable one.
  for (let s = 4; s <= 16 && (useK || useP); s *= 2) {
    const cut = mx - s * Math.LN2 * tau;
    const cand: number[] = [];
    for (let i = 0; i < V; i++) if (logits[i] >= cut) cand.push(i);
    if (cand.length === V) break;
    if (useK && cand.length < (topK as number)) continue;
    cand.sort((a, b) => logits[b] - logits[a] || a - b);
    const ids = useK ? cand.slice(0, topK) : cand;
    const weights = ids.map((i) => Math.exp((logits[i] - mx) / tau));
    if (!useP) return { ids, weights };
    const total = useK ? weights.reduce((a, b) => a + b, 0) : rowMass;
    let acc = 0;
    let keep = 0;
    while (keep < ids.length) {
      acc += weights[keep++] / total;
      if (acc >= (topP as number)) return { ids: ids.slice(0, keep), weights: weights.slice(0, keep) };
    }
    // p not reached: with top-k the candidates are the whole top-k set (keep them all);
    // otherwise tokens below the cut may still belong, so lower it.
    if (useK) return { ids, weights };
  }
  // A flat row (or no filter): find how many tokens are kept from the values alone, sorted by
  // the engine's native numeric sort (no comparator calls), then sort only the kept ids.
  const values = Float64Array.from(logits).sort(); // ascending
  const desc = (j: number) => values[V - 1 - j];
  let keep = useK ? (topK as number) : V;
  if (useP) {
    let total = 0;
    for (let j = 0; j < keep; j++) total += Math.exp((desc(j) - mx) / tau);
    let acc = 0;
    let j = 0;
    while (j < keep) {
      acc += Math.exp((desc(j++) - mx) / tau) / total;
      if (acc >= (topP as number)) break;
    }
    keep = j;
  }
  const last = desc(keep - 1);
  let ties = 0; // kept tokens equal to the last kept value: the first ones in id order
  for (let j = keep - 1; j >= 0 && desc(j) === last; j--) ties++;
  const ids: number[] = [];
  for (let i = 0; i < V; i++) {
    if (logits[i] > last) ids.push(i);
    else if (logits[i] === last && ties > 0) {
      ids.push(i);
      ties--;
    }
  }
  ids.sort((a, b) => logits[b] - logits[a] || a - b);
  return { ids, weights: ids.map((i) => Math.exp((logits[i] - mx) / tau)) };
}
