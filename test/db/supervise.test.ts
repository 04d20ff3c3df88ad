// Issue 16 item 9: `npm start` restarts a crashed child with backoff instead of stopping
// everything, and still treats Ctrl-C (SIGINT) or a clean exit as "stop".
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { type Supervised, spawnSupervised, superviseChild } from "../../scripts/supervise.ts";
import { createLogger } from "../../src/server/log.ts";

const log = createLogger({ component: "supervise-test" });
const POLICY = { minDelayMs: 50, maxDelayMs: 200, healthyRunMs: 60_000, maxQuickCrashes: 3 };

/** A child that appends a line to `file` each time it starts, then exits with `code` (or waits). */
function child(file: string, code: number | "wait") {
  const body = `require("fs").appendFileSync(${JSON.stringify(file)}, "start\\n"); ${code === "wait" ? "setInterval(() => {}, 1000);" : `process.exit(${code});`}`;
  return spawnSupervised({ name: "crashy", command: process.execPath, args: ["-e", body], env: process.env, cwd: process.cwd(), log });
}

function watch(first: Supervised) {
  const events: string[] = [];
  let current = first;
  let resolveEnd!: (v: string) => void;
  const ended = new Promise<string>((r) => (resolveEnd = r));
  superviseChild(
    first,
    {
      log,
      isStopping: () => false,
      onStopRequested: (_n, code) => resolveEnd(`stop ${code}`),
      onGiveUp: (_n, code) => resolveEnd(`give up ${code}`),
      onRestarted: (_old, fresh) => {
        current = fresh;
        events.push("restarted");
      },
    },
    POLICY,
  );
  return { events, ended, current: () => current };
}

describe("superviseChild", () => {
  it("restarts a crashing child with growing delays, then gives up on a crash loop", async () => {
    const file = path.join(await mkdtemp(path.join(tmpdir(), "sup-")), "starts");
    const w = watch(child(file, 3));
    const started = Date.now();
    expect(await w.ended).toBe("give up 3");
    // 1 start + 3 restarts, after 50 + 100 + 200 ms of backoff at least.
    expect((await readFile(file, "utf8")).trim().split("\n")).toHaveLength(4);
    expect(w.events).toEqual(["restarted", "restarted", "restarted"]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
  }, 30_000);

  it("does not restart a child stopped by SIGINT or one that exits cleanly", async () => {
    const file = path.join(await mkdtemp(path.join(tmpdir(), "sup-")), "starts");
    const first = child(file, "wait");
    const w = watch(first);
    await new Promise((r) => setTimeout(r, 300));
    first.child.kill("SIGINT");
    expect(await w.ended).toBe("stop 130");
    expect(w.events).toEqual([]);
    const clean = watch(child(file, 0));
    expect(await clean.ended).toBe("stop 0");
  }, 30_000);
});
