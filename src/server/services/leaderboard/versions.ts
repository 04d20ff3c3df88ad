// What the leaderboard shows besides the ratings: every policy version with its status and how
// many voted battles it was in, and how far the arena is from the next training round. On a
// fresh install the ranking is empty (every battle is v0 against itself), and this is what
// tells a newcomer why and what comes next.
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { countPairs } from "../rounds/pairs.ts";
import { getLoopSettings } from "../rounds/settings.ts";

export interface VersionRow {
  name: string;
  status: string;
  /** voted battles against a different version: what ratings are computed from */
  rated: number;
  /** voted battles of two samples of this version: DPO data, not rating data */
  self: number;
  createdAt: string;
}

export interface NextRound {
  /** new decisive (A/B) on-policy votes not yet used by a round */
  votes: number;
  /** the schedule's threshold; null when automatic rounds are off */
  threshold: number | null;
}

export interface VersionOverview {
  versions: VersionRow[];
  nextRound: NextRound | null;
}

/**
 * Reads the loop's schedule through its own service, in this one place (its field names are the
 * loop's to change). A failure there must not take the leaderboard down: progress is left out.
 */
async function nextRound(db: PrismaClient): Promise<NextRound | null> {
  try {
    const settings = await getLoopSettings({ db });
    // the same count the schedule waits for: new (never trained) decisive votes on the train side
    const votes = (await countPairs(db, { versus: settings.dpo.versusPairs, heldoutFraction: settings.dpo.heldoutFraction })).fresh;
    return { votes, threshold: settings.schedule.autoTrain ? settings.schedule.minNewPairs : null };
  } catch {
    return null;
  }
}

export async function versionOverview({ db }: { db: PrismaClient }): Promise<VersionOverview> {
  const [rows, next] = await Promise.all([
    db.$queryRaw<{ name: string; status: string; rated: number; self: number; createdAt: Date }[]>`
      WITH sides AS (
        SELECT "policyAId" AS version, "policyAId" IS NOT DISTINCT FROM "policyBId" AS self FROM "Battle"
         WHERE status = 'VOTED' AND "policyAId" IS NOT NULL
        UNION ALL
        SELECT "policyBId", false FROM "Battle"
         WHERE status = 'VOTED' AND "policyBId" IS NOT NULL AND "policyAId" IS DISTINCT FROM "policyBId")
      SELECT name, status, "createdAt", rated, self FROM (
        SELECT 0 AS part, pv.id AS ord, pv.name, pv.status::text AS status, pv."createdAt",
               (count(s.version) FILTER (WHERE NOT s.self))::int AS rated,
               (count(s.version) FILTER (WHERE s.self))::int AS self
          FROM "PolicyVersion" pv LEFT JOIN sides s ON s.version = pv.id
         GROUP BY pv.id
        UNION ALL
        -- external contestants (issue 17): rated against the serving policy, never self-battles
        SELECT 1, ct.id, ct.name, 'EXTERNAL', ct."createdAt", count(b.id)::int, 0
          FROM "Contestant" ct LEFT JOIN "Battle" b ON b."contestantId" = ct.id AND b.status = 'VOTED'
         GROUP BY ct.id
        HAVING ct."removedAt" IS NULL OR count(b.id) > 0) t
       ORDER BY part, ord`,
    nextRound(db),
  ]);
  return { versions: rows.map((r) => ({ ...r, createdAt: r.createdAt.toISOString() })), nextRound: next };
}
