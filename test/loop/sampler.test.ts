// The web process's sampling service: worker threads stream tokens without blocking the event
// loop; a completion that started on a version finishes on it when a swap happens mid-stream,
// and every result names the version that produced it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { byteTokenizer } from "../../src/lm/index.ts";
import { createLogger } from "../../src/server/log.ts";
import { createSampler, type Sampler } from "../../src/server/sampler/index.ts";
import { promoteVersion } from "../../src/server/services/versions/promote.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { registerTinyHouse, tempDir } from "./fixtures.ts";

let t: TestDatabase;
let sampler: Sampler;
let v0: { id: number; name: string };
let v1: { id: number; name: string };

const params = { n: 2, temperature: 1, topK: 0, topP: 1, maxNewTokens: 30, seed: 5 };

beforeAll(async () => {
  t = await createTestDatabase();
  v0 = await registerTinyHouse(t.db, { seed: 1 });
  v1 = await registerTinyHouse(t.db, { seed: 2, name: "v1", status: "CANDIDATE" });
  sampler = await createSampler({
    databaseUrl: t.url,
    checkpointDir: await tempDir("sampler"),
    backend: "cpu",
    threads: 2,
    pollIntervalMs: 500,
    log: createLogger({}, () => {}),
  });
});
afterAll(async () => {
  await sampler?.close();
  await t?.drop();
});

describe("sampler", () => {
  it("streams tokens from a worker thread while the event loop stays free", async () => {
    const tokens: { index: number; tokenIds: number[]; from: number; append: string }[] = [];
    let maxLag = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      maxLag = Math.max(maxLag, now - last - 5);
      last = now;
    }, 5);
    const r = await sampler.generate({ ...params, promptText: "Hello", maxNewTokens: 40, onToken: (e) => tokens.push(e) });
    clearInterval(ticker);
    expect(r.versionId).toBe(v0.id);
    expect(r.completions).toHaveLength(2);
    const tok = byteTokenizer();
    for (const [i, c] of r.completions.entries()) {
      expect(c.promptTokenIds).toEqual([tok.bos, ...tok.encode("Hello")]);
      expect(c.tokenIds.length).toBeGreaterThan(0);
      // the streamed ids are exactly the completion's ids, and the text changes rebuild its text
      const mine = tokens.filter((e) => e.index === i);
      expect(mine.flatMap((e) => e.tokenIds)).toEqual(c.tokenIds);
      expect(mine.reduce((text, e) => text.slice(0, e.from) + e.append, "")).toBe(c.text);
      expect(c.logprob).toBeLessThan(0);
    }
    // generous: the machine may be shared; a blocked loop would stall for the whole generation
    expect(maxLag).toBeLessThan(250);
  });

  it("concurrent requests share decode steps on a thread and get exactly what they would get alone", async () => {
    const reqs = Array.from({ length: 6 }, (_, i) => ({
      ...params,
      promptText: `Batch ${"x".repeat(i * 3)} ${i}`,
      seed: 100 + i,
      maxNewTokens: 10 + 4 * i,
    }));
    const together = await Promise.all(reqs.map((r) => sampler.generate(r)));
    for (const [i, r] of reqs.entries()) {
      const alone = await sampler.generate(r);
      expect(together[i]!.completions.map((c) => c.tokenIds)).toEqual(alone.completions.map((c) => c.tokenIds));
      for (const [j, c] of alone.completions.entries()) expect(together[i]!.completions[j]!.logprob).toBeCloseTo(c.logprob, 4);
    }
  });

  it("same seed, same completions", async () => {
    const a = await sampler.generate({ ...params, promptText: "Same" });
    const b = await sampler.generate({ ...params, promptText: "Same" });
    expect(b.completions.map((c) => c.tokenIds)).toEqual(a.completions.map((c) => c.tokenIds));
  });

  it("a completion streaming during a swap finishes on its version; new ones use the new version", async () => {
    let promoted = false;
    const streaming = sampler.generate({
      ...params,
      promptText: "Long story",
      onToken: (e) => {
        if (!promoted && e.index === 0) {
          promoted = true;
          void promoteVersion({ db: t.db, versionId: v1.id });
        }
      },
    });
    const before = await streaming;
    expect(before.versionId).toBe(v0.id);
    const deadline = Date.now() + 2000;
    while (sampler.registry.current()?.id !== v1.id && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(sampler.registry.current()?.id).toBe(v1.id);
    const after = await sampler.generate({ ...params, promptText: "Long story" });
    expect(after.versionId).toBe(v1.id);
    expect(after.completions.map((c) => c.tokenIds)).not.toEqual(before.completions.map((c) => c.tokenIds));
  });

  it("samples an earlier version on request (versus battles), and can be cancelled", async () => {
    const old = await sampler.generate({ ...params, promptText: "Versus", versionId: v0.id });
    expect(old.versionName).toBe("v0");
    const ctrl = new AbortController();
    const r = await sampler.generate({
      ...params,
      promptText: "Stop me",
      // long enough that the abort, sent at the first token, lands before the thread could
      // finish on its own even on a loaded machine (40 tokens took ~40 ms and raced it)
      maxNewTokens: 200,
      signal: ctrl.signal,
      onToken: () => ctrl.abort(),
    });
    expect(r.completions.every((c) => c.finishReason === "aborted" && c.tokenIds.length < 200)).toBe(true);
    await expect(sampler.generate({ ...params, promptText: "x", versionId: 9999 })).rejects.toThrow(/does not exist/);
  });

  it("many battles asking at once for an earlier version that is not loaded all get it", async () => {
    sampler.pool.retire(v0.id); // as a hot swap away from it does
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) =>
        sampler.generate({ ...params, maxNewTokens: 4, seed: i, promptText: `Versus ${i}`, versionId: v0.id }),
      ),
    );
    const failures = results.filter((r) => r.status === "rejected").map((r) => String((r as PromiseRejectedResult).reason));
    expect(failures).toEqual([]);
    expect(results.every((r) => r.status === "fulfilled" && r.value.versionName === "v0")).toBe(true);
  });
});
