import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashSessionToken, readCookie, SESSION_COOKIE } from "../../src/server/auth/session.ts";
import { AppError } from "../../src/server/errors.ts";
import { signIn } from "../../src/server/services/auth/sign-in.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { callerFor, createUser, errorOf, httpClient, uniqueName } from "./fixtures.ts";

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t?.drop());

function sessionTokenFrom(setCookie: string | null): string {
  const token = readCookie(setCookie?.split(";")[0], SESSION_COOKIE);
  if (!token) throw new Error(`no session cookie in ${setCookie}`);
  return token;
}

describe("sign-in over HTTP", () => {
  it("sets an httpOnly SameSite=Lax cookie and stores only the token's sha256", async () => {
    const { user, password } = await createUser(t.db);
    const res = await httpClient(t.db).mutate("auth.signIn", { username: user.username, password });
    expect(res.status).toBe(200);
    const setCookie = res.headers.get("set-cookie");
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Lax/);
    expect(setCookie).toMatch(/Path=\//);
    expect(setCookie).not.toMatch(/Secure/);
    const token = sessionTokenFrom(setCookie);
    expect(Buffer.from(token, "base64url")).toHaveLength(32);
    expect(await t.db.session.findUnique({ where: { id: token } })).toBeNull();
    const stored = await t.db.session.findUnique({ where: { id: hashSessionToken(token) } });
    expect(stored?.userId).toBe(user.id);
  });

  it("marks the cookie Secure behind https", async () => {
    const { user, password } = await createUser(t.db);
    const res = await httpClient(t.db).mutate(
      "auth.signIn",
      { username: user.username, password },
      { headers: { "x-forwarded-proto": "https" } },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("set-cookie")).toMatch(/; Secure/);
  });

  it("refuses a wrong password and an unknown user with the same 401 message", async () => {
    const { user } = await createUser(t.db);
    const client = httpClient(t.db);
    const wrong = await client.mutate("auth.signIn", { username: user.username, password: "not the password" });
    const unknown = await client.mutate("auth.signIn", { username: uniqueName("ghost"), password: "whatever123" });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(errorOf(wrong).message).toBe(errorOf(unknown).message);
    expect(wrong.headers.get("set-cookie")).toBeNull();
  });

  it("me reflects the session and sign-out deletes it", async () => {
    const { user, password } = await createUser(t.db);
    const client = httpClient(t.db);
    const signedIn = await client.mutate("auth.signIn", { username: user.username, password });
    const cookie = `${SESSION_COOKIE}=${sessionTokenFrom(signedIn.headers.get("set-cookie"))}`;

    const me = await client.query("auth.me", undefined, { cookie });
    expect((me.body as { result: { data: { json: { user: { username: string } } } } }).result.data.json.user.username).toBe(user.username);

    const out = await client.mutate("auth.signOut", undefined, { cookie });
    expect(out.status).toBe(200);
    expect(out.headers.get("set-cookie")).toMatch(/Max-Age=0/);
    expect(await t.db.session.count({ where: { userId: user.id } })).toBe(1); // the fixture's own session
    const after = await client.query("users.list", {}, { cookie });
    expect(after.status).toBe(401);
  });
});

describe("session lifetime and account state", () => {
  it("an expired session is anonymous and is removed", async () => {
    const { user, token, cookie } = await createUser(t.db, { role: "ADMIN" });
    await t.db.session.update({ where: { id: hashSessionToken(token) }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const { caller } = await callerFor(t.db, cookie);
    expect((await caller.auth.me()).user).toBeNull();
    await expect(caller.users.list()).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    expect(await t.db.session.count({ where: { userId: user.id } })).toBe(0);
  });

  it("disabling a labeler revokes their sessions and refuses sign-in; enabling lets them back", async () => {
    const admin = await createUser(t.db, { role: "ADMIN" });
    const labeler = await createUser(t.db);
    const { caller: adminCaller } = await callerFor(t.db, admin.cookie);

    await adminCaller.users.setDisabled({ userId: labeler.user.id, disabled: true });
    expect(await t.db.session.count({ where: { userId: labeler.user.id } })).toBe(0);
    const { caller: labelerCaller } = await callerFor(t.db, labeler.cookie);
    expect((await labelerCaller.auth.me()).user).toBeNull();

    const refused = await httpClient(t.db).mutate("auth.signIn", { username: labeler.user.username, password: labeler.password });
    expect(refused.status).toBe(403);
    expect(errorOf(refused).message).toMatch(/disabled/);

    // A session created behind the service's back is still refused while disabled.
    await t.db.session.create({
      data: { id: hashSessionToken("sneaky"), userId: labeler.user.id, expiresAt: new Date(Date.now() + 3_600_000) },
    });
    expect((await (await callerFor(t.db, `${SESSION_COOKIE}=sneaky`)).caller.auth.me()).user).toBeNull();

    await adminCaller.users.setDisabled({ userId: labeler.user.id, disabled: false });
    const back = await httpClient(t.db).mutate("auth.signIn", { username: labeler.user.username, password: labeler.password });
    expect(back.status).toBe(200);
  });

  it("an admin cannot disable themselves or another admin", async () => {
    const admin = await createUser(t.db, { role: "ADMIN" });
    const other = await createUser(t.db, { role: "ADMIN" });
    const { caller } = await callerFor(t.db, admin.cookie);
    await expect(caller.users.setDisabled({ userId: admin.user.id, disabled: true })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(caller.users.setDisabled({ userId: other.user.id, disabled: true })).rejects.toMatchObject({ code: "BAD_REQUEST" });
  });

  it("a password reset ends the user's sessions and the new password works", async () => {
    const admin = await createUser(t.db, { role: "ADMIN" });
    const labeler = await createUser(t.db);
    const { caller } = await callerFor(t.db, admin.cookie);
    const result = await caller.users.resetPassword({ userId: labeler.user.id, password: "a brand new secret" });
    expect(result.sessionsEnded).toBe(1);
    const client = httpClient(t.db);
    expect((await client.mutate("auth.signIn", { username: labeler.user.username, password: labeler.password })).status).toBe(401);
    expect((await client.mutate("auth.signIn", { username: labeler.user.username, password: "a brand new secret" })).status).toBe(200);
  });
});

describe("labeler management", () => {
  it("creates a labeler who can sign in, and refuses a case-insensitive duplicate", async () => {
    const admin = await createUser(t.db, { role: "ADMIN" });
    const { caller } = await callerFor(t.db, admin.cookie);
    const username = uniqueName("Ann");
    const created = await caller.users.createLabeler({ username, password: "labeler-password" });
    expect(created.role).toBe("LABELER");
    await expect(caller.users.createLabeler({ username: username.toLowerCase(), password: "labeler-password" })).rejects.toMatchObject({
      code: "CONFLICT",
    });
    const listed = await caller.users.list();
    expect(listed.find((u) => u.id === created.id)).toMatchObject({ username, disabled: false, voteCount: 0 });
    expect(JSON.stringify(listed)).not.toMatch(/passwordHash|argon2/);
  });
});

describe("sign-in rate limit", () => {
  it("after 10 failures from one address, refuses that address for that username only", async () => {
    const { user, password } = await createUser(t.db);
    const other = await createUser(t.db);
    const attempt = (username: string, pw: string) => signIn({ db: t.db, username, password: pw, ttlHours: 1, clientAddress: "10.0.0.1" });
    for (let i = 0; i < 10; i++)
      await expect(attempt(user.username, "wrong-password")).rejects.toMatchObject({ code: "INVALID_CREDENTIALS" });
    const locked = await attempt(user.username, password).catch((e: unknown) => e);
    expect(locked).toBeInstanceOf(AppError);
    expect((locked as AppError).code).toBe("RATE_LIMITED");
    await expect(attempt(other.user.username, other.password)).resolves.toMatchObject({ user: { id: other.user.id } });
  });
});

describe("expired session sweep", () => {
  it("deletes only expired sessions", async () => {
    const { deleteExpiredSessions } = await import("../../src/server/auth/session.ts");
    const live = await createUser(t.db);
    const old = await createUser(t.db);
    await t.db.session.update({ where: { id: hashSessionToken(old.token) }, data: { expiresAt: new Date(Date.now() - 1) } });
    expect(await deleteExpiredSessions({ db: t.db })).toBeGreaterThanOrEqual(1);
    expect(await t.db.session.count({ where: { userId: old.user.id } })).toBe(0);
    expect(await t.db.session.count({ where: { userId: live.user.id } })).toBe(1);
  });
});
