// A Llama-family checkpoint goes through the same import as the house model: a tiny random
// qwen3 directory in Hugging Face layout (BF16, sharded, chat template) is validated, copied,
// registered as its own lineage root, served, and loaded back verified with its chat template;
// a broken one is refused by name with nothing registered.
import { rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodePrompt, HOUSE_MODEL_DIR, initBackend, scoreCompletions } from "../../src/lm/index.ts";
import { tinyHFConfig, writeTinyHF } from "../../src/lm/llama/fixtures.ts";
import { AppError } from "../../src/server/errors.ts";
import { DirectoryCheckpointStore } from "../../src/server/policy/checkpoint-store.ts";
import { loadVerified } from "../../src/server/policy/load.ts";
import { seed } from "../../src/server/seed.ts";
import { importModel } from "../../src/server/services/models/import-model.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { storeEntries, tempDir } from "./fixtures.ts";

let t: TestDatabase;
let storeRoot: string;
let store: DirectoryCheckpointStore;
const cleanup: string[] = [];

beforeAll(async () => {
  await initBackend("wasm");
  t = await createTestDatabase();
  storeRoot = await tempDir("store");
  store = new DirectoryCheckpointStore(storeRoot);
  await seed(t.db, { adminPassword: "long enough pw", houseModelDir: HOUSE_MODEL_DIR, checkpointDir: storeRoot });
});
afterAll(async () => {
  await t?.drop();
  for (const d of [storeRoot, ...cleanup]) await rm(d, { recursive: true, force: true });
});

describe("importing a Llama-family (qwen3) checkpoint", () => {
  it("registers a qwen3 lineage root, serves it, and loads it back verified with its chat template", async () => {
    const dir = await tempDir("qwen3");
    cleanup.push(dir);
    await writeTinyHF(dir, tinyHFConfig("qwen3"), { seed: 4, dtype: "BF16", shards: 2 });
    const r = await importModel({ db: t.db, store, dir, name: "tiny-qwen3", serve: true });
    const v = await t.db.policyVersion.findUniqueOrThrow({ where: { id: r.version.id } });
    expect(v).toMatchObject({ status: "SERVING", parentId: null, source: "IMPORTED", architecture: "qwen3" });

    const loaded = await loadVerified(store, {
      id: v.id,
      name: v.name,
      checkpointUri: v.checkpointUri,
      checkpointSha256: v.checkpointSha256,
    });
    try {
      expect(loaded.model.arch).toBe("llama");
      // the prompt is rendered with the model's chat template, so scoring sees a user turn
      const ids = encodePrompt(loaded.tokenizer, "Hello");
      expect(loaded.tokenizer.decode(ids)).toMatch(/user\s*Hello\s*assistant/);
      expect(ids.length).toBeGreaterThan(loaded.tokenizer.encode("Hello").length + 4); // turn markers are there
      const { sum } = scoreCompletions(loaded.model, [{ promptIds: ids, completionIds: [loaded.tokenizer.eos] }]);
      expect(Number.isFinite(sum[0])).toBe(true);
    } finally {
      loaded.model.dispose();
    }
  });

  it("refuses a qwen3 directory with a missing tensor by name, registering nothing", async () => {
    const dir = await tempDir("qwen3-broken");
    cleanup.push(dir);
    await writeTinyHF(dir, tinyHFConfig("qwen3"), { seed: 5 });
    // config.json now claims one layer more than the weights hold: that layer's tensors are missing
    const cfg = tinyHFConfig("qwen3");
    await writeFile(path.join(dir, "config.json"), JSON.stringify({ ...cfg, num_hidden_layers: (cfg.num_hidden_layers as number) + 1 }));
    const before = { versions: await t.db.policyVersion.count(), store: await storeEntries(storeRoot) };
    const err = await importModel({ db: t.db, store, dir, name: "broken-qwen3", serve: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).userMessage).toMatch(/model\.layers\.\d+\./);
    expect(await t.db.policyVersion.count()).toBe(before.versions);
    expect(await storeEntries(storeRoot)).toEqual(before.store);
  });
});
