// `npm run cli -- reset-admin-password [--username NAME]`: recovers an admin account whose
// first-start password was lost (it is shown once). Sets a new password (generated, or the one
// in ADMIN_PASSWORD), enables the account, ends its sessions and clears its sign-in throttles,
// then prints the password once.
import { randomBytes } from "node:crypto";
import { type CommandSpec, runCommand } from "../../../cli/args.ts";
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { hashPassword } from "../../auth/password.ts";
import { forgetUserSessions } from "../../auth/session.ts";
import { createPrismaClient } from "../../db/client.ts";
import { getEnv, requireDatabaseUrl } from "../../env.ts";

export async function resetAdminPassword(options: {
  db: PrismaClient;
  username: string;
  password?: string;
}): Promise<{ username: string; password: string; generated: boolean; sessionsEnded: number }> {
  const { db, username } = options;
  const generated = options.password === undefined;
  const password = options.password ?? randomBytes(15).toString("base64url");
  const passwordHash = await hashPassword(password);
  const user = await db.user.findFirst({
    where: { username: { equals: username, mode: "insensitive" } },
    select: { id: true, username: true, role: true },
  });
  if (!user)
    throw new Error(`no user named ${JSON.stringify(username)}; \`npm start\` creates the admin named by ADMIN_USERNAME on first start`);
  if (user.role !== "ADMIN")
    throw new Error(`${user.username} is a labeler, not an admin; reset labelers' passwords on the admin Users page`);
  const sessionsEnded = await db.$transaction(async (tx) => {
    await tx.user.update({ where: { id: user.id }, data: { passwordHash, disabled: false } });
    await tx.$executeRaw`DELETE FROM "LoginThrottle" WHERE key LIKE ${`pair:%|${user.username.toLowerCase()}`}`;
    return (await tx.session.deleteMany({ where: { userId: user.id } })).count;
  });
  forgetUserSessions(db, user.id);
  return { username: user.username, password, generated, sessionsEnded };
}

const SPEC = {
  command: "npm run cli -- reset-admin-password",
  description:
    "Sets ADMIN_PASSWORD if set, else a generated password, and prints it once; enables the account,\nends its sessions and clears its sign-in throttles.",
  options: { username: { type: "string", value: "NAME", help: "the admin account (default: ADMIN_USERNAME)" } },
} as const satisfies CommandSpec;

export function run(argv: string[]): Promise<number> {
  return runCommand(SPEC, argv, ({ values }) => resetFromShell(values.username));
}

async function resetFromShell(username: string | undefined): Promise<number> {
  const env = getEnv();
  const db = createPrismaClient(requireDatabaseUrl());
  try {
    const r = await resetAdminPassword({ db, username: username ?? env.ADMIN_USERNAME, password: env.ADMIN_PASSWORD });
    console.log(
      r.generated
        ? `admin ${r.username}: new password (shown only once): ${r.password}`
        : `admin ${r.username}: password set to ADMIN_PASSWORD`,
    );
    console.log(`${r.sessionsEnded} session(s) ended; the account is enabled and its sign-in throttles are cleared.`);
    return 0;
  } finally {
    await db.$disconnect();
  }
}
