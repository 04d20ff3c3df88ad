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
