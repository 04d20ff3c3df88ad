import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "./backend.ts";
import { nextTokenLogprobs, scoreCompletions } from "./forward.ts";
import { TINY, tinyModel } from "./testing.ts";

beforeAll(async () => {
  await initBackend();
});

describe("nextTokenLogprobs", () => {
  it("gives normalised rows whose entry at each target is the scored token log-prob", () => {
    const model = tinyModel(3, { ...TINY, vocabSize: 64, nPositions: 32 });
    const V = model.config.vocabSize;
    // two items share a prompt (packed into one tree-masked row), one stands alone
    const items = [
      { promptIds: [1, 10, 11, 12, 13, 14, 15, 16, 17, 18], completionIds: [40, 41, 42] },
      { promptIds: [1, 10, 11, 12, 13, 14, 15, 16, 17, 18], completionIds: [50, 51] },
      { promptIds: [1, 7], completionIds: [60, 61, 62, 63] },
    ];
    const before = tf.memory().numTensors;
    const dists = nextTokenLogprobs(model, items, { batchSize: 2 });
    expect(tf.memory().numTensors).toBe(before);
    const scored = scoreCompletions(model, items).perToken;
    items.forEach((it, i) => {
      expect(dists[i].length).toBe(it.completionIds.length * V);
      it.completionIds.forEach((tok, t) => {
        const row = dists[i].subarray(t * V, (t + 1) * V);
        const mass = row.reduce((a, x) => a + Math.exp(x), 0);
        expect(mass).toBeCloseTo(1, 4);
        expect(row[tok]).toBeCloseTo(scored[i][t], 4);
      });
    });
    model.dispose();
  });
});
