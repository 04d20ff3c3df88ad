// The loop's admin API through the real tRPC caller: admin-only, validated settings with
// field-level errors, trigger/cancel, promote and rollback (refusing a corrupt checkpoint).
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { TRPCError } from "@trpc/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fileUriToPath } from "../../src/server/policy/checkpoint-store.ts";
import { callerFor, createUser } from "../api/fixtures.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { registerTinyHouse } from "./fixtures.ts";

let t: TestDatabase;
let admin: Awaited<ReturnType<typeof callerFor>>["caller"];

beforeAll(async () => {
  t = await createTestDatabase();
  const { cookie } = await createUser(t.db, { role: "ADMIN" });
  admin = (await callerFor(t.db, cookie)).caller;
});
afterAll(async () => {
  await t?.drop();
});

describe("rounds admin API", () => {
  it("is refused to labelers", async () => {
    const { cookie } = await createUser(t.db);
    const labeler = (await callerFor(t.db, cookie)).caller;
    await expect(labeler.rounds.list()).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(labeler.rounds.trigger()).rejects.toMatchObject({ code: "FORBIDDEN" });
  });

  it("validates hyperparameters with a message naming the field", async () => {
    const err = await admin.rounds.updateSettings({ dpo: { beta: -1 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TRPCError);
    expect((err as TRPCError).code).toBe("BAD_REQUEST");
    expect((err as TRPCError).message).toMatch(/β must be > 0/);
    const s = await admin.rounds.updateSettings({ dpo: { beta: 0.2, lr: 1e-4 }, schedule: { minNewPairs: 50 } });
    expect(s.dpo).toMatchObject({ beta: 0.2, lr: 1e-4 });
    expect((await admin.rounds.settings()).schedule.minNewPairs).toBe(50);
  });

  it("triggers (idempotently while one is active), lists and cancels rounds", async () => {
    // Not ready (no votes): refused until the admin confirms; then joining the active round needs no confirmation.
    await expect(admin.rounds.trigger()).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringMatching(/new votes a round waits for/),
    });
    const ready = await admin.rounds.readiness();
    expect(ready).toMatchObject({ ready: false, trainable: 0, minNewPairs: 50, minHeldoutPairs: 200, enoughHeldout: false });
    const a = await admin.rounds.trigger({ force: true });
    const b = await admin.rounds.trigger();
    expect(a.created).toBe(true);
    expect(b).toMatchObject({ created: false, round: { id: a.round.id } });
    const list = await admin.rounds.list();
    expect(list.map((r) => r.id)).toEqual([a.round.id]);
    expect(list[0]).toMatchObject({ status: "QUEUED", triggeredBy: "admin", lastMetric: null });
    await admin.rounds.cancel({ roundId: a.round.id });
    expect((await admin.rounds.get({ roundId: a.round.id })).status).toBe("CANCELLED");
    await expect(admin.rounds.cancel({ roundId: a.round.id })).rejects.toMatchObject({ code: "CONFLICT" });
    await expect(admin.rounds.get({ roundId: "nope" })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("promotes and rolls back, refusing a corrupt checkpoint", async () => {
    const v0 = await registerTinyHouse(t.db, { seed: 1 });
    const v1 = await registerTinyHouse(t.db, { seed: 2, name: "v1", status: "CANDIDATE" });
    expect(await admin.rounds.promote({ versionId: v1.id })).toMatchObject({ versionId: v1.id, previousId: v0.id, changed: true });
    expect(await admin.rounds.rollback()).toMatchObject({ versionId: v0.id, previousId: v1.id });

    await writeFile(path.join(fileUriToPath(v1.checkpointUri), "model.safetensors"), "garbage");
    await expect(admin.rounds.promote({ versionId: v1.id })).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringMatching(/refusing to serve v1/),
    });
    const versions = await admin.rounds.versions();
    expect(versions.find((v) => v.status === "SERVING")?.id).toBe(v0.id);
  });
});
