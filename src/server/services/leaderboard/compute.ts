// Where a leaderboard snapshot is computed (issue 16 item 4). Reading 50k votes and 100
// bootstrap fits take a second or more of CPU; on a web process's event loop that second would
// stall every vote and stream of that process. With a database URL (every client made by
// createPrismaClient has one) the work runs in a worker thread with its own connection;
// otherwise (a client from elsewhere) in this thread, as before.
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { databaseUrlOf, type PrismaClient } from "../../db/client.ts";
import { voteConfidence } from "../quality/inputs.ts";
import { loadRatingBattles } from "./battle-records.ts";
import { getLeaderboardQuality } from "./labeler-quality-filter.ts";
import { computeSnapshot, type LeaderboardSnapshot } from "./snapshot.ts";

/**
 * The battles the ratings count: every counted vote, or with the leaderboard's labeler-quality
 * setting on "exclude-doubtful", without the votes unlikely to be right (labeler-quality-filter.ts).
 */
export async function loadCountedBattles(db: PrismaClient) {
  const [loaded, quality] = await Promise.all([loadRatingBattles({ db }), getLeaderboardQuality({ db })]);
  if (quality.mode !== "exclude-doubtful") return loaded;
  const confidence = await voteConfidence({ db });
  const battles = loaded.battles.filter((_, i) => (confidence.get(loaded.voteIds[i]!) ?? 1) >= quality.minConfidence);
  return { ...loaded, battles };
}

export type ComputeWhere = "thread" | "inline";

/** Next.js bundles server code, so the thread runs from source through tsx (as the sampler's do). */
function bootstrap(file: string): string {
  return `import("tsx/esm/api")
  .then(({ register }) => { register(); return import(${JSON.stringify(pathToFileURL(file).href)}); })
  .catch((err) => { console.error("leaderboard thread failed to start: " + (err && err.stack || err)); process.exit(1); });`;
}

function computeInThread(databaseUrl: string): Promise<LeaderboardSnapshot> {
  const file = path.resolve(process.cwd(), "src/server/services/leaderboard/compute-thread.ts");
  return new Promise((resolve, reject) => {
    const worker = new Worker(bootstrap(file), { eval: true, workerData: { databaseUrl } });
    let settled = false;
    worker.once("message", (m: { ok: true; snapshot: LeaderboardSnapshot } | { ok: false; message: string }) => {
      settled = true;
      if (m.ok) resolve(m.snapshot);
      else reject(new Error(`leaderboard computation failed: ${m.message}`));
    });
    worker.once("error", (err) => {
      settled = true;
      reject(err);
    });
    worker.once("exit", (code) => {
      if (!settled) reject(new Error(`leaderboard thread exited with code ${code} before answering`));
    });
  });
}

export async function computeLeaderboardSnapshot({
  db,
  where,
}: {
  db: PrismaClient;
  where?: ComputeWhere;
}): Promise<{ snapshot: LeaderboardSnapshot; where: ComputeWhere }> {
  const url = databaseUrlOf(db);
  if (url && where !== "inline") return { snapshot: await computeInThread(url), where: "thread" };
  const { battles, mark } = await loadCountedBattles(db);
  return { snapshot: computeSnapshot(battles, mark), where: "inline" };
}
