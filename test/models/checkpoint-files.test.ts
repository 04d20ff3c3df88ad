// Crash safety of checkpoint files (issue 16 item 8): data and directory entries are flushed
// before the rename that publishes a checkpoint; the recorded sha256 covers config.json; what a
// crashed writer left behind is cleaned at start.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HOUSE_MODEL_DIR } from "../../src/lm/index.ts";
import { DirectoryCheckpointStore, fileUriToPath } from "../../src/server/policy/checkpoint-store.ts";
import { loadVerified } from "../../src/server/policy/load.ts";
import { seed } from "../../src/server/seed.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { storeEntries, tempDir } from "./fixtures.ts";

const exec = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, "../..");
const cleanup: string[] = [];
afterAll(async () => {
  for (const d of cleanup) await rm(d, { recursive: true, force: true });
});

describe("publishing a checkpoint", () => {
  it.skipIf(!existsSync("/usr/bin/strace"))(
    "fsyncs every file and the staging directory before the rename, and the store directory after it",
    async () => {
      const root = await tempDir("fsync-store");
      cleanup.push(root);
      const trace = path.join(root, "..", `${path.basename(root)}.strace`);
      cleanup.push(trace);
      await exec(
        "strace",
        [
          "-f",
          "-y",
          "-e",
          "trace=fsync,fdatasync,rename,renameat,renameat2",
          "-o",
          trace,
          process.execPath,
          "--import",
          "tsx",
          "test/models/put-child.ts",
          HOUSE_MODEL_DIR,
          root,
          "k1",
        ],
        { cwd: ROOT },
      );
      const lines = (await readFile(trace, "utf8")).split("\n");
      const publish = lines.findIndex((l) => /rename(at2?)?\(.*\.staging-k1.*"?.*k1"/.test(l) && !l.includes("unfinished"));
      expect(publish, "the staging directory is renamed onto the key").toBeGreaterThan(-1);
      const synced = (pattern: RegExp, from: number, to: number) =>
        lines.slice(from, to).some((l) => /f(data)?sync\(/.test(l) && pattern.test(l));
      for (const f of ["config.json", "model.safetensors", "README.md"]) {
        expect(synced(new RegExp(`\\.staging-k1[^/>]*/${f.replace(".", "\\.")}>`), 0, publish), `${f} flushed before the rename`).toBe(
          true,
        );
      }
      expect(synced(/\.staging-k1[^/>]*>\)/, 0, publish), "staging directory flushed before the rename").toBe(true);
      expect(synced(new RegExp(`<${root}>\\)`), publish, lines.length), "store directory flushed after the rename").toBe(true);
      expect(await storeEntries(root)).toEqual(["k1"]);
    },
  );

  it("cleans staging and trash left by dead writers at start, never a live writer's", async () => {
    const root = await tempDir("leftovers");
    cleanup.push(root);
    const deadPid = 2 ** 22 + 12345; // above Linux's pid_max default
    const dead = `.staging-v7-abc~${hostname()}~${deadPid}~${Date.now()}`;
    const live = `.staging-v8-abc~${hostname()}~${process.pid}~${Date.now()}`;
    const otherHost = `.staging-v9-abc~elsewhere~${deadPid}~${Date.now()}`;
    const trash = `.trash-v3-abc-${deadPid}-1`;
    for (const d of [dead, live, otherHost, trash, "v1-abc"]) {
      await mkdir(path.join(root, d));
      await writeFile(path.join(root, d, "model.safetensors"), "partial");
    }
    const removed = await new DirectoryCheckpointStore(root).cleanLeftovers();
    expect(removed.sort()).toEqual([dead, trash].sort());
    expect((await storeEntries(root)).sort()).toEqual([live, otherHost, "v1-abc"].sort());
    // A writer on another host is presumed dead only after hours.
    expect(await new DirectoryCheckpointStore(root).cleanLeftovers(Date.now() + 7 * 3600_000)).toEqual(
      expect.arrayContaining([otherHost, live]),
    );
  });

  it("a put that fails leaves no staging directory behind", async () => {
    const root = await tempDir("failed-put");
    cleanup.push(root);
    const store = new DirectoryCheckpointStore(root);
    await expect(store.put(HOUSE_MODEL_DIR, "v1", { files: ["config.json", "no-such-file.safetensors"] })).rejects.toThrow();
    expect(await storeEntries(root)).toEqual([]);
  });
});

describe("the recorded sha256", () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(() => t?.drop());

  it("covers config.json: a stored checkpoint whose config.json changed is refused, not loaded with the wrong config", async () => {
    const root = await tempDir("digest-store");
    cleanup.push(root);
    await seed(t.db, { adminPassword: "long enough pw", houseModelDir: HOUSE_MODEL_DIR, checkpointDir: root });
    const v0 = await t.db.policyVersion.findUniqueOrThrow({ where: { name: "v0" } });
    const store = new DirectoryCheckpointStore(root);
    (await loadVerified(store, v0)).model.dispose();

    const cfgFile = path.join(fileUriToPath(v0.checkpointUri), "config.json");
    const cfg = JSON.parse(await readFile(cfgFile, "utf8"));
    await writeFile(cfgFile, JSON.stringify({ ...cfg, layer_norm_epsilon: 0.1 }));
    await expect(loadVerified(store, v0)).rejects.toThrow(
      /v0 is corrupt or was changed after registration: sha256 .* \(config\.json, weights and tokenizer\) does not match/,
    );
  });
});
