// `npm run bench [-- name…]`: runs each benchmark in its own process (so peak RSS and
// backend state are per benchmark) and passes its JSON lines through to stdout.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { parseOrExit } from "../src/cli/args.ts";

const all = ["lm", "gemm", "dpo", "rating", "quality", "leaderboard", "stats", "loop", "arena", "memory", "export"];
const wanted = parseOrExit({
  command: "npm run bench --",
  description: "Runs each benchmark in its own process; every one prints JSON lines and none passes or fails on timings.",
  positionals: [{ name: "NAME", variadic: true, help: `benchmarks to run (default all: ${all.join(", ")})` }],
  options: {},
}).positionals;
const names = wanted.length ? wanted : all;
let failed = 0;
for (const name of names) {
  const file = `bench/${name}.ts`;
  if (!existsSync(file)) {
    if (wanted.length) {
      console.error(`unknown benchmark "${name}" (expected one of: ${all.join(", ")})`);
      failed++;
    }
    continue;
  }
  const r = spawnSync("npx", ["tsx", file], { stdio: "inherit" });
  if (r.status !== 0) {
    console.error(`benchmark ${name} exited with ${r.status}`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
