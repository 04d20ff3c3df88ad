// Issue 16 item 9: a lost first-start admin password is recoverable from the command line.
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signIn } from "../../src/server/services/auth/sign-in.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { createUser } from "./fixtures.ts";

const exec = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, "../..");

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t?.drop());

function cli(args: string[]) {
  return exec(process.execPath, ["--import", "tsx", path.join(ROOT, "scripts/cli.ts"), ...args], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: t.url, ADMIN_PASSWORD: "", LOG_LEVEL: "warn" },
  });
}

describe("npm run cli -- reset-admin-password", () => {
  it("sets a new password, prints it once, ends sessions and lifts this admin's throttles", async () => {
    const admin = await createUser(t.db, { role: "ADMIN", username: "rootish" });
    await t.db.loginThrottle.create({ data: { key: "pair:10.1.1.1|rootish", failures: 50, windowStart: new Date() } });
    const { stdout } = await cli(["reset-admin-password", "--username", "rootish"]);
    const password = stdout.match(/shown only once\): (\S+)/)?.[1];
    expect(password).toBeTruthy();
    expect(await t.db.session.count({ where: { userId: admin.user.id } })).toBe(0);
    await expect(
      signIn({ db: t.db, username: "rootish", password: password!, ttlHours: 1, clientAddress: "10.1.1.1" }),
    ).resolves.toMatchObject({ user: { id: admin.user.id } });
    await expect(
      signIn({ db: t.db, username: "rootish", password: admin.password, ttlHours: 1, clientAddress: "10.1.1.2" }),
    ).rejects.toMatchObject({ code: "INVALID_CREDENTIALS" });
  }, 60_000);

  it("refuses a labeler or an unknown name with a message and exit code 1", async () => {
    await createUser(t.db, { username: "justlabels" });
    for (const name of ["justlabels", "nobody-at-all"]) {
      const err = (await cli(["reset-admin-password", "--username", name]).catch((e: unknown) => e)) as { code: number; stderr: string };
      expect(err.code).toBe(1);
      expect(err.stderr).toMatch(/labeler|no user named/);
    }
  }, 60_000);
});
