// Used only by the stand-in arena page until the real arena (battles, sampling) lands.
import type { PrismaClient } from "../../../generated/prisma/client.ts";

/** A random enabled, non-held-out prompt from the pool, or null if the pool is empty. */
export async function pickPoolPrompt(options: { db: PrismaClient; random?: () => number }) {
  const where = { enabled: true, heldOut: false };
  const count = await options.db.prompt.count({ where });
  if (count === 0) return null;
  const skip = Math.floor((options.random ?? Math.random)() * count);
  return options.db.prompt.findFirst({ where, orderBy: { id: "asc" }, skip, select: { id: true, text: true } });
}
