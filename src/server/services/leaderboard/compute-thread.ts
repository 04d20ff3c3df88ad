// Runs in a worker thread (see compute.ts): reads every vote and computes the leaderboard
// snapshot with its own database connection, so neither the driver's row handling nor the
// 100 bootstrap fits run on a web process's event loop. Answers one request, then exits.
import { parentPort, workerData } from "node:worker_threads";
import { createPrismaClient } from "../../db/client.ts";
import { loadCountedBattles } from "./compute.ts";
import { computeSnapshot } from "./snapshot.ts";

const { databaseUrl } = workerData as { databaseUrl: string };
const db = createPrismaClient(databaseUrl);
try {
  const { battles, mark } = await loadCountedBattles(db);
  parentPort!.postMessage({ ok: true, snapshot: computeSnapshot(battles, mark) });
} catch (err) {
  parentPort!.postMessage({ ok: false, message: err instanceof Error ? err.message : String(err) });
} finally {
  await db.$disconnect().catch(() => {});
}
