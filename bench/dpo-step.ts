// The DPO-shaped training step, shared by the lm and gemm benchmarks: V=260, d=256,
// 4 layers, 4 heads, ctx 256; 8 pairs × (64 prompt + 64 completion) tokens, chosen and rejected
// sharing the prompt (one forward pass), reference log-probs precomputed.
import { GPT, type LossFn, makeRng, type ScoreItem } from "../src/lm/index.ts";

export const DPO_STEP_CONFIG = { vocabSize: 260, nPositions: 256, nEmbd: 256, nLayer: 4, nHead: 4, layerNormEpsilon: 1e-5 };

export interface DpoStep {
  model: GPT;
  items: ScoreItem[];
  /** the sigmoid DPO loss (β 0.1) over the items' summed log-probs, with its gradient */
  dpoLoss: LossFn;
  /** tokens one step processes (unshared count) */
  tokens: number;
}

export function dpoStep(): DpoStep {
  const model = GPT.create(DPO_STEP_CONFIG, 1);
  const rand = makeRng(7);
  const ids = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 256));
  const items = Array.from({ length: 8 }, () => {
    const promptIds = [256, ...ids(63)];
    return [
      { promptIds, completionIds: ids(64) },
      { promptIds, completionIds: ids(64) },
    ];
  }).flat();
  const refLogps = new Float64Array(items.length).map(() => -300 + rand());
  const beta = 0.1;
  const dpoLoss = (lp: Float64Array) => {
    const d = new Float64Array(lp.length);
    let loss = 0;
    for (let i = 0; i < lp.length; i += 2) {
      const z = beta * (lp[i] - refLogps[i] - (lp[i + 1] - refLogps[i + 1]));
      const sig = 1 / (1 + Math.exp(-z));
      loss += -Math.log(sig) / 8;
      d[i] = (-(1 - sig) * beta) / 8;
      d[i + 1] = ((1 - sig) * beta) / 8;
    }
    return { loss, dlogps: d };
  };
  return { model, items, dpoLoss, tokens: items.length * 128 };
}
