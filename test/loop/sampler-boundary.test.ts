// The sampler ends battle completions at a word or sentence boundary past maxNewTokens (issue
// 20: the house model's text was cut mid-word). Checked with the real house model against the
// same seed sampled to a fixed length: the boundary completion is a prefix of it, and the next
// token there opens a word (or the kept text ends a sentence).
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { byteTokenizer } from "../../src/lm/index.ts";
import { createLogger } from "../../src/server/log.ts";
import { createSampler, type Sampler } from "../../src/server/sampler/index.ts";
import { overshootFor } from "../../src/server/sampler/stop-rule.ts";
import { sha256File } from "../../src/server/seed.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { tempDir } from "./fixtures.ts";

let t: TestDatabase;
let sampler: Sampler;
const HOUSE = path.resolve("models/house");

beforeAll(async () => {
  t = await createTestDatabase();
  await t.db.policyVersion.create({
    data: {
      name: "v0",
      checkpointUri: `file:${HOUSE}`,
      checkpointSha256: await sha256File(path.join(HOUSE, "model.safetensors")),
      status: "SERVING",
      promotedAt: new Date(),
    },
  });
  sampler = await createSampler({
    databaseUrl: t.url,
    checkpointDir: await tempDir("boundary"),
    backend: "cpu",
    threads: 1,
    pollIntervalMs: 500,
    log: createLogger({}, () => {}),
  });
  for (let i = 0; i < 100 && !sampler.registry.current(); i++) await new Promise((r) => setTimeout(r, 50));
});
afterAll(async () => {
  await sampler?.close();
  await t?.drop();
});

const params = { n: 2, temperature: 0.9, topK: 0, topP: 0.95, maxNewTokens: 30 };
const tok = byteTokenizer();

describe("sampler: completions end at a boundary", () => {
  it("cuts after maxNewTokens at a word or sentence boundary within the overshoot, streaming exactly what it keeps", async () => {
    const overshoot = overshootFor("bytes");
    let cuts = 0;
    for (const seed of [11, 12, 13]) {
      const streamed: Record<number, { ids: number[]; text: string }> = { 0: { ids: [], text: "" }, 1: { ids: [], text: "" } };
      const r = await sampler.generate({
        ...params,
        seed,
        promptText: "The President",
        onToken: (e) => {
          const s = streamed[e.index]!;
          s.ids.push(...e.tokenIds);
          s.text = s.text.slice(0, e.from) + e.append;
        },
      });
      const exact = await sampler.generate({
        ...params,
        seed,
        promptText: "The President",
        maxNewTokens: params.maxNewTokens + overshoot,
        exactLength: true,
      });
      for (const [i, c] of r.completions.entries()) {
        expect(["boundary", "eos", "length"]).toContain(c.finishReason);
        expect(streamed[i]!.ids).toEqual(c.tokenIds);
        expect(streamed[i]!.text).toBe(c.text);
        const full = exact.completions[i]!;
        expect(full.tokenIds.slice(0, c.tokenIds.length)).toEqual(c.tokenIds);
        if (c.finishReason !== "boundary") continue;
        cuts++;
        expect(c.tokenIds.length).toBeGreaterThanOrEqual(params.maxNewTokens);
        expect(c.tokenIds.length).toBeLessThanOrEqual(params.maxNewTokens + overshoot);
        expect(c.text).toBe(tok.decode(c.tokenIds));
        const next = tok.decode(full.tokenIds.slice(0, c.tokenIds.length + 1)).slice(c.text.length);
        expect(/^\s/.test(next) || /[.!?]["')\]]*$/.test(c.text), `"${c.text}" + "${next}"`).toBe(true);
        expect(c.text).toMatch(/\S$/);
        // the log-prob covers the kept tokens only: below the full sequence's (all terms are < 0)
        expect(c.logprob).toBeGreaterThan(full.logprob);
      }
    }
    // the house model writes spaces every few bytes: most of six completions end at a boundary
    expect(cuts).toBeGreaterThanOrEqual(4);
  });

  it("exactLength stops at exactly maxNewTokens", async () => {
    const r = await sampler.generate({ ...params, seed: 3, promptText: "Once upon a time", exactLength: true });
    for (const c of r.completions) if (c.finishReason !== "eos") expect(c.tokenIds.length).toBe(params.maxNewTokens);
  });
});
