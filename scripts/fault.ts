// `npm run fault`: the arena under real faults, with real processes and a real PostgreSQL
// (issue 16, "Fault tests"). Everything runs on a private PostgreSQL cluster (the embedded
// server, in a temporary directory on a free port), never the machine's shared one, because one
// scenario stops and starts it. Web servers are the product's route handlers on a plain HTTP
// host (src/sim/product/host.ts: no production build needed); trainers are workers/trainer.ts.
//
//  1. kill -9 of a web server during a 16-labeler vote load: every acknowledged vote is stored
//     once after the restart, and re-sending an acknowledged idempotency key returns that vote.
//  2. PostgreSQL restart during the load: the web answers 503 while it is down (health and API,
//     never 500), and recovers within 5 s of PostgreSQL accepting connections; no vote lost.
//  3. Two web servers and two trainers on one database: labelers on both, a session works on
//     both, a round runs on exactly one trainer; kill -9 of it fails the round within its
//     lease and the other trainer runs the next one; a promotion reaches both web servers
//     within 2 s.
//
// Prints one JSON line per check and exits 1 if any failed. `--only 1,2` runs some scenarios.
// The parts: scripts/fault/ (processes, the arena load, the scenarios, the report).
import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { type CommandSpec, parseOrExit, usageError, usageErrorText } from "../src/cli/args.ts";
import { freePort } from "../src/devtools/processes.ts";
import type { Web } from "./fault/processes.ts";
import { failures, log } from "./fault/report.ts";
import { createWorld, killWebServer, restartPostgres, twoAndTwo, type World } from "./fault/scenarios.ts";

const SPEC = {
  command: "npm run fault --",
  description: "Runs the arena under real faults on a private PostgreSQL and prints one JSON line per check.",
  options: {
    only: {
      type: "string",
      value: "LIST",
      help: "run only these scenarios, e.g. 1,3 (1: kill -9 of a web server, 2: PostgreSQL restart, 3: two web servers, two trainers)",
    },
  },
} as const satisfies CommandSpec;

function scenariosToRun(only: string | undefined): Set<number> {
  if (only === undefined) return new Set([1, 2, 3]);
  const picked = only.split(",").map((s) => (s.trim() === "" ? Number.NaN : Number(s)));
  if (picked.some((n) => ![1, 2, 3].includes(n))) {
    process.stderr.write(usageErrorText(usageError(SPEC, `--only takes scenario numbers (1, 2, 3) separated by commas, got "${only}"`)));
    process.exit(2);
  }
  return new Set(picked);
}

const RUN = scenariosToRun(parseOrExit(SPEC).values.only);

let world: World | undefined;

async function main() {
  const started = Date.now();
  const work = await mkdtemp(path.join(os.tmpdir(), "dpo-fault-"));
  await chmod(work, 0o755); // as root, PostgreSQL runs as the postgres user, which must reach it
  log(`private PostgreSQL and logs in ${work}`);
  const w = (world = await createWorld(work, await freePort()));
  let web: Web | undefined;
  try {
    if (RUN.has(1)) web = await killWebServer(w);
    web ??= await w.fleet.startWeb("web1");
    if (RUN.has(2)) await restartPostgres(w, web);
    if (RUN.has(3)) await twoAndTwo(w, web);
  } finally {
    await w.fleet.stopAll();
    await w.db.$disconnect().catch(() => {});
    await w.pg.stop().catch(() => {});
  }
  process.stdout.write(
    `${JSON.stringify({ fault: "summary", failures: failures(), seconds: Math.round((Date.now() - started) / 1000), loadavg: os.loadavg()[0] })}\n`,
  );
  if (failures() === 0) await rm(work, { recursive: true, force: true });
  else log(`logs kept in ${work}`);
}

main().then(
  () => process.exit(failures() ? 1 : 0),
  async (err: unknown) => {
    log(`fault run failed: ${(err as Error).stack ?? err}`);
    await world?.fleet.stopAll();
    process.exit(1);
  },
);
