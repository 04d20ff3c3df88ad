// Hot-swap across processes: a promotion in one process is served by another process's
// registry within 2 s (LISTEN/NOTIFY), a missed notification is covered by polling, a corrupt
// checkpoint is refused while the previous version keeps serving, and rollback swaps back.
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { promoteVersion, rollbackVersion } from "../../src/server/services/versions/promote.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { registerTinyHouse, tempDir } from "./fixtures.ts";

let t: TestDatabase;
let child: ChildProcess;
const events: { event: string; id?: number; name?: string; via?: string; version?: string; error?: string; at: number }[] = [];

async function waitEvent(pred: (e: (typeof events)[number]) => boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const e = events.find(pred);
    if (e) return e;
    if (Date.now() > deadline) throw new Error(`no matching event within ${timeoutMs} ms; events: ${JSON.stringify(events)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  t = await createTestDatabase();
  await registerTinyHouse(t.db, { seed: 1 });
  // Polling every 5 s: anything faster than that in the first test came through NOTIFY.
  child = spawn(process.execPath, ["--import", "tsx", "test/loop/registry-child.ts", t.url, await tempDir("reg"), "5000"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  createInterface({ input: child.stdout! }).on("line", (l) => events.push(JSON.parse(l)));
  await waitEvent((e) => e.event === "ready", 110_000);
});
afterAll(async () => {
  child?.kill("SIGKILL");
  await t?.drop();
});

describe("policy registry in another process", () => {
  it("serves the promoted version within 2 s of the commit, via NOTIFY", async () => {
    expect(events.find((e) => e.event === "ready")?.id).toBeTruthy();
    const v1 = await registerTinyHouse(t.db, { seed: 2, name: "v1", status: "CANDIDATE" });
    const committed = Date.now();
    await promoteVersion({ db: t.db, versionId: v1.id });
    const seen = await waitEvent((e) => e.event === "serving" && e.id === v1.id, 2000);
    expect(seen.via).toBe("notify");
    expect(seen.at - committed).toBeLessThan(2000);
  });

  it("refuses a corrupt checkpoint and keeps serving the previous version", async () => {
    const v2 = await registerTinyHouse(t.db, { seed: 3, name: "v2", status: "CANDIDATE" });
    await t.db.policyVersion.update({ where: { id: v2.id }, data: { checkpointSha256: "f".repeat(64) } });
    await promoteVersion({ db: t.db, versionId: v2.id }); // no verify: the store went bad after registration
    const refused = await waitEvent((e) => e.event === "refused" && e.version === "v2", 3000);
    expect(refused.error).toMatch(/corrupt/);
    expect(events.some((e) => e.event === "serving" && e.id === v2.id)).toBe(false);
  });

  it("rollback swaps back, and polling catches a change made without NOTIFY", async () => {
    const v0 = await t.db.policyVersion.findFirstOrThrow({ where: { name: "v0" } });
    const back = await rollbackVersion({ db: t.db, toVersionId: v0.id });
    expect(back.versionId).toBe(v0.id);
    await waitEvent((e) => e.event === "serving" && e.id === v0.id, 2000);

    const v1 = await t.db.policyVersion.findFirstOrThrow({ where: { name: "v1" } });
    await t.db.$transaction([
      t.db.policyVersion.update({ where: { id: v0.id }, data: { status: "RETIRED" } }),
      t.db.policyVersion.update({ where: { id: v1.id }, data: { status: "SERVING" } }),
    ]);
    const seen = await waitEvent((e) => e.event === "serving" && e.id === v1.id && e.at > Date.now() - 60_000 && e.via === "poll", 7000);
    expect(seen.via).toBe("poll");
  });
});
