// DPO on a tiny qwen3 checkpoint: held-out preference accuracy on marker-word pairs goes from
// chance to ≥ 0.9; the trained model saves in HF layout and reloads bit-identically; a training
// step leaks no tensors.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { preferenceLoss } from "../../dpo/losses.ts";
import { initBackend } from "../backend.ts";
import { loadCheckpoint, saveCheckpoint } from "../checkpoint.ts";
import { logprobGrads, type ScoreItem, scoreCompletions } from "../forward.ts";
import { makeRng } from "../model.ts";
import { AdamW, clipGradNorm, disposeGrads } from "../optim.ts";
import { encodePrompt, type Tokenizer } from "../tokenizer.ts";
import { tinyHFConfig, writeTinyHF } from "./fixtures.ts";
import type { LlamaModel } from "./model.ts";

let root: string;
beforeAll(async () => {
  await initBackend();
  root = await mkdtemp(path.join(tmpdir(), "llama-train-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const WORDS = ["red", "cat", "sun", "map", "fig", "owl", "jar", "kit", "log", "pen", "rim", "tub", "web", "zip", "hat", "dew"];

const GOOD = ["yes", "yep", "ace", "wow"];
const BAD = ["nah", "nop", "meh", "bah"];

/** The same words with a good marker (chosen) or a bad one (rejected) at the same random place: only the marker differs. */
function pairs(n: number, seed: number, tok: Tokenizer): { chosen: ScoreItem; rejected: ScoreItem }[] {
  const rand = makeRng(seed);
  return Array.from({ length: n }, () => {
    const words = Array.from({ length: 3 }, () => WORDS[Math.floor(rand() * WORDS.length)]);
    const at = Math.floor(rand() * 4);
    const withMarker = (m: string) => [...words.slice(0, at), m, ...words.slice(at)].join(" ");
    const promptIds = encodePrompt(tok, `say ${WORDS[Math.floor(rand() * WORDS.length)]}`);
    const good = GOOD[Math.floor(rand() * GOOD.length)],
      bad = BAD[Math.floor(rand() * BAD.length)];
    return {
      chosen: { promptIds, completionIds: tok.encode(withMarker(good)) },
      rejected: { promptIds, completionIds: tok.encode(withMarker(bad)) },
    };
  });
}

function accuracy(model: LlamaModel, ps: ReturnType<typeof pairs>): number {
  const { sum } = scoreCompletions(
    model,
    ps.flatMap((p) => [p.chosen, p.rejected]),
  );
  let right = 0;
  for (let i = 0; i < ps.length; i++) right += sum[2 * i] > sum[2 * i + 1] ? 1 : sum[2 * i] === sum[2 * i + 1] ? 0.5 : 0;
  return right / ps.length;
}

it("DPO raises held-out accuracy on marker-word pairs from chance to >= 0.9, saves and reloads bit-identically", async () => {
  const dir = path.join(root, "base");
  await writeTinyHF(
    dir,
    tinyHFConfig("qwen3", {
      hidden_size: 32,
      intermediate_size: 64,
      head_dim: 8,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      tie_word_embeddings: true,
    }),
    { seed: 3 },
  );
  const loaded = await loadCheckpoint(dir);
  const policy = loaded.model as LlamaModel;
  const tok = loaded.tokenizer;
  const train = pairs(64, 1, tok);
  const heldOut = pairs(48, 2, tok);
  const before = accuracy(policy, heldOut);
  const refOf = (ps: typeof train) =>
    scoreCompletions(
      policy,
      ps.flatMap((p) => [p.chosen, p.rejected]),
    ).sum;
  const refTrain = refOf(train);
  const refHeld = refOf(heldOut);
  // TRL's rewards/accuracies on held-out pairs: implicit reward β·(log π − log π_ref) of chosen strictly above rejected
  const rewardAccuracy = () => {
    const { sum } = scoreCompletions(
      policy,
      heldOut.flatMap((p) => [p.chosen, p.rejected]),
    );
    let right = 0;
    for (let i = 0; i < heldOut.length; i++) if (sum[2 * i] - refHeld[2 * i] > sum[2 * i + 1] - refHeld[2 * i + 1]) right++;
    return right / heldOut.length;
  };
  expect(rewardAccuracy()).toBe(0); // the policy is the reference: no pair is preferred
  const opt = new AdamW({ lr: 1e-2, weightDecay: 0 });
  const rand = makeRng(7);
  const stepOn = (idx: number[]) => {
    const items = idx.flatMap((i) => [train[i].chosen, train[i].rejected]);
    const { grads } = logprobGrads(policy, items, (lp) => {
      const n = idx.length;
      const out = preferenceLoss({
        policyChosen: idx.map((_, k) => lp[2 * k]),
        policyRejected: idx.map((_, k) => lp[2 * k + 1]),
        refChosen: idx.map((i) => refTrain[2 * i]),
        refRejected: idx.map((i) => refTrain[2 * i + 1]),
        beta: 0.5,
        lossType: "sigmoid",
      });
      const d = new Float64Array(2 * n);
      for (let k = 0; k < n; k++) {
        d[2 * k] = out.gradPolicyChosen[k] / n;
        d[2 * k + 1] = out.gradPolicyRejected[k] / n;
      }
      return { loss: out.losses.reduce((a, b) => a + b, 0) / n, dlogps: d };
    });
    clipGradNorm(grads, 1);
    opt.step(policy, grads);
    disposeGrads(grads);
  };
  const batch = () => Array.from({ length: 8 }, () => Math.floor(rand() * train.length));
  stepOn(batch()); // warm-up: optimizer moments, cached tables
  const tensors = tf.memory().numTensors;
  stepOn(batch());
  expect(tf.memory().numTensors).toBe(tensors);
  for (let s = 0; s < 60; s++) stepOn(batch());
  const after = accuracy(policy, heldOut);
  const rewardAfter = rewardAccuracy();
  console.log(
    JSON.stringify({
      heldout_logp_preference_before: before,
      heldout_logp_preference_after: after,
      heldout_reward_accuracy_after: rewardAfter,
    }),
  );
  expect(rewardAfter).toBeGreaterThanOrEqual(0.9);
  // and the policy itself now ranks chosen above rejected, whatever the random init preferred
  expect(after).toBeGreaterThanOrEqual(0.9);

  // saved in HF layout (F32, HF names and shapes), reloaded bit for bit
  const out = path.join(root, "trained");
  const { sha256 } = await saveCheckpoint(policy, tok, out);
  const cfg = JSON.parse(await readFile(path.join(out, "config.json"), "utf8"));
  expect(cfg.model_type).toBe("qwen3");
  const again = await loadCheckpoint(out);
  expect(again.sha256).toBe(sha256);
  expect(again.sha256).not.toBe(loaded.sha256);
  for (const n of policy.paramNames()) {
    const a = policy.getParam(n).dataSync() as Float32Array;
    const b = again.model.getParam(n).dataSync() as Float32Array;
    expect(Buffer.from(b.buffer, b.byteOffset, b.byteLength).equals(Buffer.from(a.buffer, a.byteOffset, a.byteLength)), n).toBe(true);
  }
  expect(encodePrompt(again.tokenizer, "hi")).toEqual(encodePrompt(tok, "hi"));
  expect(accuracy(again.model as LlamaModel, heldOut)).toBe(after);
  again.model.dispose();
  policy.dispose();
  opt.dispose();
});
