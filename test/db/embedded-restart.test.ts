// Issue 16 item 9: `npm start` restarts its embedded PostgreSQL when it dies (kill -9 here), with
// backoff, and says so in the log. A private cluster in a temporary directory on a free port.
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../../src/devtools/processes.ts";
import { type EmbeddedDatabase, startEmbeddedDatabase } from "../../src/server/db/embedded.ts";

let dir: string | undefined;
let server: EmbeddedDatabase | undefined;

afterAll(async () => {
  await server?.stop().catch(() => {});
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

describe("embedded PostgreSQL supervision", () => {
  it("restarts the server after kill -9 and logs the restart", { timeout: 180_000 }, async () => {
    dir = await mkdtemp(path.join(tmpdir(), "dpo-embedded-"));
    await chmod(dir, 0o755); // as root, PostgreSQL runs as the postgres user, which must reach it
    const lines: string[] = [];
    server = await startEmbeddedDatabase({
      dataDir: dir,
      port: await freePort(),
      restart: { minDelayMs: 200, maxDelayMs: 2000, healthyRunMs: 60_000 },
      log: (msg) => lines.push(msg),
      logError: (msg) => lines.push(msg),
    });
    expect(await answers(server.url)).toBe(true);
    const first = server.pid();
    expect(first).toBeGreaterThan(0);

    process.kill(first!, "SIGKILL");
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && !(server.pid() !== first && (await answers(server.url)))) {
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(server.pid()).not.toBe(first);
    expect(await answers(server.url)).toBe(true);
    expect(lines.some((l) => /exited unexpectedly; restarting it in 0\.2s/.test(l))).toBe(true);
    expect(lines).toContain("embedded PostgreSQL restarted");
  });
});
