// A sampler thread loads each version once: concurrent requests for it share one load, a
// version re-served while its old copy still streams reuses that copy, and a refused checkpoint
// is not half-registered.
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HOUSE_MODEL_DIR, initBackend } from "../../src/lm/index.ts";
import { type CheckpointStore, DirectoryCheckpointStore } from "../../src/server/policy/checkpoint-store.ts";
import { checkpointDigest } from "../../src/server/policy/digest.ts";
import { ModelCache } from "../../src/server/policy/model-cache.ts";
import { tempDir } from "./fixtures.ts";

let root: string;
let inner: DirectoryCheckpointStore;
let reads = 0;
const counting: CheckpointStore = {
  put: (d, k, o) => inner.put(d, k, o),
  localPath: (uri) => (reads++, inner.localPath(uri)),
  remove: (uri) => inner.remove(uri),
  owns: (uri) => inner.owns(uri),
};

beforeAll(async () => {
  await initBackend("cpu");
  root = await tempDir("cache-store");
  inner = new DirectoryCheckpointStore(root);
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe("ModelCache", () => {
  it("loads a version once for concurrent requests, and keeps reusing it", async () => {
    const uri = await inner.put(HOUSE_MODEL_DIR, "v0", { files: ["config.json", "model.safetensors"] });
    const v0 = { id: 1, name: "v0", checkpointUri: uri, checkpointSha256: await checkpointDigest(HOUSE_MODEL_DIR) };
    const cache = new ModelCache(counting);
    reads = 0;
    await Promise.all(Array.from({ length: 8 }, () => cache.load(v0)));
    expect(reads).toBe(1);
    const lease = cache.acquire(v0.id);
    cache.retire(v0.id); // a hot swap while a completion streams
    await cache.load(v0); // served again before that completion ends: the same copy
    expect(reads).toBe(1);
    expect(cache.acquire(v0.id).model).toBe(lease.model);
    lease.release();
    cache.disposeAll();
  });

  it("a checkpoint whose digest does not match is refused and not cached", async () => {
    const uri = await inner.put(HOUSE_MODEL_DIR, "v9", { files: ["config.json", "model.safetensors"] });
    const cache = new ModelCache(counting);
    await expect(cache.load({ id: 9, name: "v9", checkpointUri: uri, checkpointSha256: "f".repeat(64) })).rejects.toThrow(
      /v9 is corrupt or was changed/,
    );
    expect(cache.has(9)).toBe(false);
    expect(() => cache.acquire(9)).toThrow(/not loaded/);
  });
});
