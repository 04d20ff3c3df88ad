// What the sampler threads hold: every thread loads a served version once, a swap leaves each
// thread holding exactly the new version's weights (the old ones freed in every thread, not
// just one), and the pool reports it per thread (bench/memory.ts prints these figures).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { byteTokenizer, GPT, type GPTConfig, initBackend, saveCheckpoint } from "../../lm/index.ts";
import { checkpointDigest } from "../policy/digest.ts";
import type { VersionRef } from "../policy/load.ts";
import { SamplerPool } from "./pool.ts";

const CONFIG: GPTConfig = { vocabSize: 260, nPositions: 48, nEmbd: 16, nLayer: 1, nHead: 2, layerNormEpsilon: 1e-5 };
let root: string;
let pool: SamplerPool;
let numParams = 0;

async function version(id: number, seed: number): Promise<VersionRef> {
  const dir = path.join(root, `v${id}`);
  const model = GPT.create(CONFIG, seed);
  numParams = model.numParams();
  await saveCheckpoint(model, byteTokenizer(), dir);
  model.dispose();
  return { id, name: `v${id}`, checkpointUri: `file:${dir}`, checkpointSha256: await checkpointDigest(dir) };
}

beforeAll(async () => {
  await initBackend("cpu");
  root = await mkdtemp(path.join(tmpdir(), "sampler-pool-"));
  pool = new SamplerPool({ size: 2, backend: "cpu", checkpointRoot: root });
  await pool.ready();
});
afterAll(async () => {
  await pool?.close();
  await rm(root, { recursive: true, force: true });
});

const params = { promptText: "Hi", n: 2, temperature: 1, topK: 0, topP: 1, maxNewTokens: 8, seed: 3, exactLength: true };

describe("SamplerPool memory", () => {
  it("loads a version once in every thread, and a swap frees the old weights in every thread", async () => {
    const empty = await pool.memory();
    expect(empty).toHaveLength(2);
    for (const m of empty) expect(m.versions).toEqual([]);
    const base = empty.map((m) => m.tensorBytes);

    const v0 = await version(1, 1);
    await pool.load(v0);
    await pool.load(v0); // a second load of the same version adds nothing
    const loaded = await pool.memory();
    loaded.forEach((m, i) => {
      expect(m.versions).toEqual([1]);
      expect(m.tensorBytes - base[i]).toBe(numParams * 4);
    });
    const first = await pool.generate({ ...params, versionId: 1 });
    expect(first[0].tokenIds).toHaveLength(8);
    await pool.generate({ ...params, versionId: 1, seed: 4 });
    // serving adds what the model caches for sampling (the tied head's transpose), nothing per request
    const serving = (await pool.memory()).map((m) => m.tensorBytes);

    // the swap: the new version everywhere, then the old one retired everywhere
    const v1 = await version(2, 2);
    await pool.load(v1);
    pool.retire(1);
    await pool.generate({ ...params, versionId: 2 });
    await pool.generate({ ...params, versionId: 2, seed: 4 }); // both threads' queues have drained the retire
    const swapped = await pool.memory();
    swapped.forEach((m, i) => {
      expect(m.versions).toEqual([2]);
      // exactly one served model: the old version's tensors were disposed in this thread
      expect(m.tensorBytes).toBe(serving[i]);
    });
    await expect(pool.generate({ ...params, versionId: 1 })).rejects.toThrow(/not loaded/);
  });
});

describe("SamplerPool on wasm: few-row decode steps", () => {
  // a model big enough that a packed copy of its weights cannot fit in the heap's slack (~40 MB)
  const BIG: GPTConfig = { vocabSize: 260, nPositions: 64, nEmbd: 384, nLayer: 6, nHead: 6, layerNormEpsilon: 1e-5 };

  async function heapGrowth(packedWeightsLimitBytes: number, dir: string): Promise<{ loaded: number; after: number }> {
    const p = new SamplerPool({ size: 1, backend: "wasm", checkpointRoot: root, packedWeightsLimitBytes });
    try {
      await p.ready();
      await p.load({ id: 7, name: "big", checkpointUri: `file:${dir}`, checkpointSha256: await checkpointDigest(dir) });
      const loaded = (await p.memory())[0].wasmHeapBytes!;
      await p.generate({ ...params, versionId: 7, n: 2, maxNewTokens: 4 }); // 2 rows a step
      return { loaded, after: (await p.memory())[0].wasmHeapBytes! };
    } finally {
      await p.close();
    }
  }

  it("keep no packed copy of the weights once the model is over the limit", async () => {
    const dir = path.join(root, "big");
    const model = GPT.create(BIG, 5);
    await saveCheckpoint(model, byteTokenizer(), dir);
    const weightBytes = model.numParams() * 4;
    model.dispose();
    // over the limit: the heap stays as loading left it
    const limited = await heapGrowth(0, dir);
    expect(limited.after).toBe(limited.loaded);
    // the control: with the wasm backend's own few-row kernel, the heap grows by about a copy
    const unlimited = await heapGrowth(Number.MAX_SAFE_INTEGER, dir);
    expect(unlimited.after - unlimited.loaded).toBeGreaterThan(weightBytes / 2);
  });
});
