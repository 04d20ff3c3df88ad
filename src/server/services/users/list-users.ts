import type { PrismaClient } from "../../../generated/prisma/client.ts";

export async function listUsers(options: { db: PrismaClient }) {
  const users = await options.db.user.findMany({
    orderBy: [{ role: "asc" }, { username: "asc" }],
    select: { id: true, username: true, role: true, disabled: true, createdAt: true, _count: { select: { votes: true } } },
  });
  return users.map(({ _count, ...user }) => ({ ...user, voteCount: _count.votes }));
}

export type ListedUser = Awaited<ReturnType<typeof listUsers>>[number];
