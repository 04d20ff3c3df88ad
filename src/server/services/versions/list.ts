import type { PrismaClient } from "../../../generated/prisma/client.ts";

export async function listVersions({ db }: { db: PrismaClient }) {
  return db.policyVersion.findMany({
    orderBy: { id: "desc" },
    select: {
      id: true,
      name: true,
      parentId: true,
      status: true,
      checkpointUri: true,
      checkpointSha256: true,
      notes: true,
      createdAt: true,
      promotedAt: true,
      producedBy: { select: { id: true, number: true } },
    },
  });
}

export async function getServingVersion({ db }: { db: PrismaClient }) {
  return db.policyVersion.findFirst({
    where: { status: "SERVING" },
    select: { id: true, name: true, checkpointUri: true, checkpointSha256: true, modelConfig: true },
  });
}

/** v0, v1, …: the next free name after the highest numbered one. */
export async function nextVersionName({ db }: { db: PrismaClient }): Promise<string> {
  const rows = await db.$queryRaw<{ n: number | null }[]>`
    SELECT max(substring(name from '^v([0-9]+)$')::int) AS n FROM "PolicyVersion"`;
  const n = rows[0]?.n;
  return `v${n === null || n === undefined ? 0 : n + 1}`;
}
