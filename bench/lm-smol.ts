// One measurement at the SmolLM2-135M shape (random weights): `tsx bench/lm-smol.ts sample |
// concurrent | train`. Run by bench/lm.ts, one process per measurement so each peak RSS is its own.
// Prints one JSON line; never asserts timings.
import os from "node:os";
import * as tf from "@tensorflow/tfjs-core";
import { parseOrExit } from "../src/cli/args.ts";
import {
  AdamW,
  byteTokenizer,
  disposeGrads,
  initBackend,
  LlamaModel,
  llamaConfigFromHF,
  logprobGrads,
  makeRng,
  SampleBatcher,
  sample,
} from "../src/lm/index.ts";
import { SMOL_CONFIG, smolDpoStep } from "./smol-shape.ts";

const emit = (o: Record<string, unknown>) => console.log(JSON.stringify(o));
const rssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);

async function main() {
  const [mode] = parseOrExit({
    command: "npx tsx bench/lm-smol.ts",
    description: "One measurement at the SmolLM2-135M shape with random weights (bench/lm.ts runs each in its own process).",
    positionals: [{ name: "MODE", required: true, help: "sample, concurrent or train" }],
    options: {},
  }).positionals;
  const backend = await initBackend();
  const t0 = performance.now();
  const model = LlamaModel.create(llamaConfigFromHF(SMOL_CONFIG, "smollm2-135m-shape"), 1);
  const loadMs = performance.now() - t0;
  const rand = makeRng(3);
  const ids = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 49000));
  // never stops early: every completion is exactly maxNewTokens long
  const tok = { ...byteTokenizer(), stopIds: [] as number[] };
  const base = {
    shape: "SmolLM2-135M (576 hidden, 30 layers, 9/3 heads, 1536 MLP, 49152 vocab, tied)",
    backend,
    params: model.numParams(),
    init_ms: Math.round(loadMs),
  };
  if (mode === "sample") {
    const promptIds = ids(32);
    await sample(model, tok, { promptIds, n: 2, temperature: 1, maxNewTokens: 4, seed: 0 });
    const times: number[] = [];
    for (let i = 0; i < 2; i++) {
      const s = performance.now();
      await sample(model, tok, { promptIds, n: 2, temperature: 1, maxNewTokens: 64, seed: i });
      times.push(performance.now() - s);
    }
    const ms = Math.min(...times);
    emit({
      bench: "smol_sample",
      ...base,
      what: "2 completions x 64 tokens, 32-token prompt, KV cache",
      tokens_per_s: +(128 / (ms / 1000)).toFixed(1),
      runs_ms: times.map(Math.round),
      peak_rss_mb: rssMb(),
      loadavg_1m: +os.loadavg()[0].toFixed(2),
    });
  } else if (mode === "concurrent") {
    const batcher = new SampleBatcher();
    const reqs = Array.from({ length: 16 }, (_, i) => ({
      promptIds: ids(16 + 2 * i),
      n: 2,
      temperature: 1,
      maxNewTokens: 64,
      seed: 100 + i,
    }));
    await batcher.sample(model, tok, { ...reqs[0], maxNewTokens: 2 });
    const s = performance.now();
    const out = await Promise.all(reqs.map((o) => batcher.sample(model, tok, o)));
    const ms = performance.now() - s;
    const tokens = out.flat().reduce((a, c) => a + c.ids.length, 0);
    await batcher.close();
    emit({
      bench: "smol_sample_concurrent",
      ...base,
      what: "16 requests x 2 completions x 64 tokens through one SampleBatcher",
      tokens,
      tokens_per_s: +(tokens / (ms / 1000)).toFixed(1),
      ms: Math.round(ms),
      peak_rss_mb: rssMb(),
      loadavg_1m: +os.loadavg()[0].toFixed(2),
    });
  } else if (mode === "train") {
    // 8 pairs x (64 prompt + 64 completion) tokens, reference log-probs precomputed (smol-shape.ts)
    const { items, loss } = smolDpoStep(rand);
    const opt = new AdamW({ lr: 1e-5 });
    const step = () => {
      const { grads } = logprobGrads(model, items, loss);
      opt.step(model, grads);
      disposeGrads(grads);
    };
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const s = performance.now();
      step();
      times.push(performance.now() - s);
    }
    const ms = Math.min(...times.slice(1));
    emit({
      bench: "smol_train_step",
      ...base,
      what: "DPO step: 8 pairs x (64+64) tokens, fwd+bwd+AdamW, reference log-probs precomputed",
      tokens_per_s: +((items.length * 128) / (ms / 1000)).toFixed(1),
      runs_ms: times.map(Math.round),
      peak_rss_mb: rssMb(),
      tensors: tf.memory().numTensors,
      loadavg_1m: +os.loadavg()[0].toFixed(2),
    });
    opt.dispose();
  } else throw new Error(`usage: tsx bench/lm-smol.ts sample|concurrent|train (got ${mode})`);
  model.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
