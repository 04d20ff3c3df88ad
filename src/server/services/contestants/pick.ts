// Which contestant (if any) a new VERSUS-share battle meets. An enabled contestant whose last
// call failed is passed over for RETRY_AFTER_MS; after that one battle tries it again (and falls
// back to the serving policy if it still fails: battle.ts), so a dead endpoint costs at most one
// fallback a minute and never a failed battle.
import type { PrismaClient } from "../../../generated/prisma/client.ts";

export const RETRY_AFTER_MS = 60_000;

/**
 * With probability `share`, a usable contestant chosen uniformly; null otherwise. Draws from
 * `random` only when a contestant is usable, so arenas without contestants draw as before.
 */
export async function pickContestant(
  db: Pick<PrismaClient, "$queryRaw">,
  { share, random, now }: { share: number; random: () => number; now: Date },
): Promise<number | null> {
  if (share <= 0) return null;
  const retryAfter = new Date(now.getTime() - RETRY_AFTER_MS);
  const rows = await db.$queryRaw<{ id: number }[]>`
    SELECT id FROM "Contestant"
     WHERE enabled AND "removedAt" IS NULL
       AND NOT ("lastErrorAt" IS NOT NULL AND "lastErrorAt" > COALESCE("lastSuccessAt", 'epoch'::timestamp) AND "lastErrorAt" > ${retryAfter})
     ORDER BY id`;
  if (rows.length === 0) return null;
  if (random() >= share) return null;
  return rows[Math.min(rows.length - 1, Math.floor(random() * rows.length))]!.id;
}
