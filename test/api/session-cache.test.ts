// The in-process session cache: it saves a query per request, and must never keep a session
// alive that this process ended (sign-out, disabled user, password reset) or that expired.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteSession, getSessionUser, hashSessionToken } from "../../src/server/auth/session.ts";
import { getEnv } from "../../src/server/env.ts";
import { resetPassword } from "../../src/server/services/users/reset-password.ts";
import { setUserDisabled } from "../../src/server/services/users/set-user-disabled.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { createUser } from "./fixtures.ts";

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t?.drop());

const ttlMs = () => getEnv().SESSION_CACHE_SECONDS * 1000;

describe("session cache", () => {
  it("answers from memory within the TTL and reads the database again after it", async () => {
    expect(ttlMs()).toBeGreaterThan(0);
    const { user, token } = await createUser(t.db);
    const now = new Date();
    expect((await getSessionUser({ db: t.db, token, now }))?.user.id).toBe(user.id);
    // the row goes away behind the cache's back (another process signed the user out)
    await t.db.session.deleteMany({ where: { id: hashSessionToken(token) } });
    expect((await getSessionUser({ db: t.db, token, now: new Date(now.getTime() + 100) }))?.user.id).toBe(user.id);
    expect(await getSessionUser({ db: t.db, token, now: new Date(now.getTime() + ttlMs() + 1) })).toBeNull();
  });

  it("never outlives the session's own expiry", async () => {
    const { token } = await createUser(t.db);
    const row = await t.db.session.findUniqueOrThrow({ where: { id: hashSessionToken(token) } });
    const justBefore = new Date(row.expiresAt.getTime() - 1000);
    expect(await getSessionUser({ db: t.db, token, now: justBefore })).not.toBeNull();
    expect(await getSessionUser({ db: t.db, token, now: new Date(row.expiresAt.getTime() + 1) })).toBeNull();
  });

  it("forgets at once what this process ends: sign-out, disabling, password reset", async () => {
    const admin = await createUser(t.db, { role: "ADMIN" });
    const a = await createUser(t.db);
    const b = await createUser(t.db);
    const c = await createUser(t.db);
    for (const u of [a, b, c]) expect(await getSessionUser({ db: t.db, token: u.token })).not.toBeNull();
    await deleteSession({ db: t.db, token: a.token });
    await setUserDisabled({ db: t.db, userId: b.user.id, disabled: true, actorId: admin.user.id });
    await resetPassword({ db: t.db, userId: c.user.id, password: "a brand new password" });
    for (const u of [a, b, c]) expect(await getSessionUser({ db: t.db, token: u.token })).toBeNull();
  });
});
