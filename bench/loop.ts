// Benchmark of the online loop's hot-swap (prints JSON lines; asserts nothing about timings):
//   1. end of a real DPO round → the new version serving in every web process (ms), with two
//      stand-in web processes (test/loop/registry-child.ts: real registry + model cache);
//   2. requests failed while versions swap under sampling load, through the real Sampler
//      (worker-thread pool + registry) in this process.
// Uses the house model when models/house exists, else a small random GPT of the same kind.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { cp } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline";
import { byteTokenizer, GPT, HOUSE_MODEL_DIR, initBackend, saveCheckpoint } from "../src/lm/index.ts";
import { createLogger } from "../src/server/log.ts";
import { DirectoryCheckpointStore } from "../src/server/policy/checkpoint-store.ts";
import { createSampler } from "../src/server/sampler/index.ts";
import { executeRound } from "../src/server/services/rounds/execute.ts";
import { triggerRound } from "../src/server/services/rounds/lifecycle.ts";
import { promoteVersion } from "../src/server/services/versions/promote.ts";
import { createTestDatabase } from "../test/helpers/db.ts";
import { fastSettings, registerTinyHouse, seedVotes, tempDir } from "../test/loop/fixtures.ts";

const quiet = createLogger({}, () => {});
const out = (o: Record<string, unknown>) => console.log(JSON.stringify({ bench: "loop", ...o }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? NaN;

interface ChildEvent {
  event: string;
  id?: number;
  at: number;
}

function webStandIn(url: string, root: string) {
  const events: ChildEvent[] = [];
  const proc: ChildProcess = spawn(process.execPath, ["--import", "tsx", "test/loop/registry-child.ts", url, root, "1000"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  createInterface({ input: proc.stdout! }).on("line", (l) => events.push(JSON.parse(l) as ChildEvent));
  const wait = async (pred: (e: ChildEvent) => boolean, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const e = events.find(pred);
      if (e) return e;
      if (Date.now() > deadline) throw new Error("a stand-in web process did not report in time");
      await sleep(10);
    }
  };
  return { proc, events, wait };
}

async function houseVersion(
  db: Awaited<ReturnType<typeof createTestDatabase>>["db"],
  name: string,
  status: "SERVING" | "CANDIDATE",
  dir: string,
) {
  const { loadCheckpoint } = await import("../src/lm/index.ts");
  const { sha256, model } = await loadCheckpoint(dir);
  model.dispose();
  return db.policyVersion.create({
    data: { name, status, checkpointUri: `file:${dir}`, checkpointSha256: sha256, promotedAt: status === "SERVING" ? new Date() : null },
    select: { id: true, name: true },
  });
}

async function main() {
  await initBackend("auto");
  const t = await createTestDatabase();
  const root = await tempDir("bench-store");
  const store = new DirectoryCheckpointStore(root);
  const children: ReturnType<typeof webStandIn>[] = [];
  try {
    // ── 1. end of round → serving everywhere ─────────────────────────────────────────────
    const v0 = await registerTinyHouse(t.db);
    await fastSettings(t.db, { dpo: { epochs: 2 } });
    for (let i = 0; i < 2; i++) children.push(webStandIn(t.url, root));
    await Promise.all(children.map((c) => c.wait((e) => e.event === "ready")));
    const lat: number[] = [];
    for (let r = 0; r < 3; r++) {
      const serving = await t.db.policyVersion.findFirstOrThrow({ where: { status: "SERVING" } });
      await seedVotes(t.db, serving.id ?? v0.id, 24, { offset: r * 100 });
      const { round } = await triggerRound({ db: t.db, triggeredBy: "admin" });
      const outcome = await executeRound({ db: t.db, store, roundId: round.id, workerId: "bench", log: quiet });
      const row = await t.db.trainingRound.findUniqueOrThrow({ where: { id: round.id } });
      if (outcome !== "SUCCEEDED" || !row.resultVersionId || !row.finishedAt) {
        out({ metric: "round", round: r, outcome, error: row.error });
        continue;
      }
      const ends = await Promise.all(children.map((c) => c.wait((e) => e.event === "serving" && e.id === row.resultVersionId, 10_000)));
      const ms = Math.max(...ends.map((e) => e.at)) - row.finishedAt.getTime();
      lat.push(ms);
      out({ metric: "round_end_to_serving_all_ms", round: r, ms, webProcesses: children.length });
    }
    out({ metric: "round_end_to_serving_all_ms_summary", n: lat.length, p50: pct(lat, 0.5), max: Math.max(...lat), target: 2000 });

    // ── 2. failed requests during swaps under load ───────────────────────────────────────
    let dirA: string;
    const dirB = await tempDir("bench-b");
    if (existsSync(path.join(HOUSE_MODEL_DIR, "model.safetensors"))) {
      dirA = HOUSE_MODEL_DIR;
      await cp(HOUSE_MODEL_DIR, dirB, { recursive: true });
    } else {
      dirA = await tempDir("bench-a");
      const m = GPT.create({ vocabSize: 260, nPositions: 256, nEmbd: 128, nLayer: 4, nHead: 4, layerNormEpsilon: 1e-5 }, 11);
      await saveCheckpoint(m, byteTokenizer(), dirA);
      await saveCheckpoint(m, byteTokenizer(), dirB);
      m.dispose();
    }
    const a = await houseVersion(t.db, "house-a", "CANDIDATE", dirA);
    const b = await houseVersion(t.db, "house-b", "CANDIDATE", dirB);
    await promoteVersion({ db: t.db, versionId: a.id });
    const sampler = await createSampler({ databaseUrl: t.url, checkpointDir: root, threads: 1, pollIntervalMs: 1000, log: quiet });
    const swaps: number[] = [];
    let promotedAt = 0;
    sampler.registry.onSwap(() => swaps.push(Date.now() - promotedAt));
    for (let i = 0; i < 100 && sampler.registry.current()?.id !== a.id; i++) await sleep(50);

    let ok = 0;
    let failed = 0;
    const errors = new Map<string, number>();
    const byVersion = new Map<string, number>();
    let stop = false;
    const client = async (k: number) => {
      for (let i = 0; !stop; i++) {
        try {
          const r = await sampler.generate({
            promptText: `Tell me about ${k}-${i}.`,
            n: 2,
            temperature: 0.9,
            topK: 0,
            topP: 0.95,
            maxNewTokens: 24,
            seed: k * 1000 + i,
          });
          ok++;
          byVersion.set(r.versionName, (byVersion.get(r.versionName) ?? 0) + 1);
        } catch (err) {
          failed++;
          const m = (err as Error).message.slice(0, 120);
          errors.set(m, (errors.get(m) ?? 0) + 1);
        }
      }
    };
    const started = performance.now();
    const clients = Array.from({ length: 4 }, (_, k) => client(k));
    const nSwaps = 4;
    for (let s = 0; s < nSwaps; s++) {
      await sleep(2000);
      promotedAt = Date.now();
      await promoteVersion({ db: t.db, versionId: s % 2 === 0 ? b.id : a.id });
    }
    await sleep(1500);
    stop = true;
    await Promise.all(clients);
    const seconds = (performance.now() - started) / 1000;
    out({
      metric: "requests_during_swaps",
      requests: ok + failed,
      failed,
      swapsRequested: nSwaps,
      swapsServed: swaps.length,
      promoteToServingMs: { p50: pct(swaps, 0.5), max: Math.max(...swaps) },
      completionsPerSecond: Math.round(((ok * 2) / seconds) * 10) / 10,
      byVersion: Object.fromEntries(byVersion),
      errors: Object.fromEntries(errors),
      model: dirA === HOUSE_MODEL_DIR ? "house" : "random 4x128",
      samplerThreads: sampler.pool.size,
    });
    await sampler.close();
  } finally {
    for (const c of children) c.proc.kill("SIGKILL");
    await t.drop();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`bench/loop: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(1);
  },
);
