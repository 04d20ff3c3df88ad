// The SmolLM2-135M shape and the DPO step workload the benchmarks measure at it (bench/lm-smol.ts
// for speed, bench/memory.ts for memory), in one place so both measure the same thing.
import type { ScoreItem } from "../src/lm/index.ts";

export const SMOL_CONFIG = {
  model_type: "llama",
  hidden_size: 576,
  num_hidden_layers: 30,
  num_attention_heads: 9,
  num_key_value_heads: 3,
  intermediate_size: 1536,
  vocab_size: 49152,
  tie_word_embeddings: true,
  max_position_embeddings: 8192,
  rope_theta: 100000,
  rms_norm_eps: 1e-5,
  hidden_act: "silu",
};

/**
 * One DPO step's input: 8 pairs × (64 prompt + 64 completion) random tokens, chosen and rejected
 * sharing the prompt, reference log-probs precomputed, and the sigmoid loss (β 0.1) with its
 * gradient in the log-probs, as logprobGrads takes it. Draws from `rand` in a fixed order.
 */
export function smolDpoStep(rand: () => number): {
  items: ScoreItem[];
  loss: (lp: Float64Array) => { loss: number; dlogps: Float64Array };
} {
  const ids = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 49000));
  const items: ScoreItem[] = Array.from({ length: 8 }, () => {
    const promptIds = ids(64);
    return [
      { promptIds, completionIds: ids(64) },
      { promptIds, completionIds: ids(64) },
    ];
  }).flat();
  const ref = new Float64Array(items.length).map(() => -700 + rand());
  const beta = 0.1;
  const loss = (lp: Float64Array) => {
    const d = new Float64Array(lp.length);
    let l = 0;
    for (let i = 0; i < lp.length; i += 2) {
      const z = beta * (lp[i] - ref[i] - (lp[i + 1] - ref[i + 1]));
      const sig = 1 / (1 + Math.exp(-z));
      l += -Math.log(sig) / 8;
      d[i] = (-(1 - sig) * beta) / 8;
      d[i + 1] = ((1 - sig) * beta) / 8;
    }
    return { loss: l, dlogps: d };
  };
  return { items, loss };
}
