// Gold pairs served as battles (issue 15). A share of assignments (the arena's `goldRate`) hands
// the labeler a gold pair instead of a pool prompt. To the labeler it is an ordinary on-policy
// battle: the same assignment reply (not ready, so it streams), the same events at the serving
// model's measured pace (gold-replay.ts), the same reveal (both slots name the serving version).
// Its vote checks the labeler (src/quality matches it to the gold answer by its texts) and never
// becomes a training pair or a rating battle (rounds/pairs.ts, leaderboard/battle-records.ts).
import type { PrismaClient } from "../../../generated/prisma/client.ts";

export interface GoldBattle {
  battleId: string;
  promptId: string;
  promptText: string;
}

/**
 * Inside the assignment's transaction: with probability `rate`, creates a battle on an active
 * gold pair this labeler has not seen (neither the pair nor a battle on the same prompt text, so
 * a gold pair made from someone's battle never goes back to a labeler who judged that prompt) and
 * returns it; otherwise null. No draw is made when there is no active gold pair, so installations
 * without gold pairs assign exactly as before.
 */
export async function claimGoldBattle(
  tx: PrismaClient,
  opts: { labelerId: string; servingId: number; rate: number; random: () => number; now: Date; leaseExpiresAt: Date },
): Promise<GoldBattle | null> {
  if (!(opts.rate > 0)) return null;
  const [any] = await tx.$queryRaw<{ exists: boolean }[]>`
    SELECT EXISTS (SELECT 1 FROM "GoldPair" WHERE active AND "promptId" IS NOT NULL) AS exists`;
  if (!any?.exists || opts.random() >= opts.rate) return null;
  const [pick] = await tx.$queryRaw<{ id: string; promptId: string; promptText: string }[]>`
    SELECT g.id, g."promptId", g."promptText"
      FROM "GoldPair" g
     WHERE g.active AND g."promptId" IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM "Battle" b WHERE b."promptId" = g."promptId" AND b."labelerId" = ${opts.labelerId})
       AND NOT EXISTS (SELECT 1 FROM "Battle" b JOIN "Prompt" p ON p.id = b."promptId"
                        WHERE b."labelerId" = ${opts.labelerId} AND p.text = g."promptText")
     ORDER BY md5(g.id || ${String(opts.random())})
     LIMIT 1`;
  if (!pick) return null;
  const battle = await tx.battle.create({
    data: {
      promptId: pick.promptId,
      labelerId: opts.labelerId,
      kind: "ON_POLICY",
      policyAId: opts.servingId,
      policyBId: opts.servingId,
      // Which completion goes left is drawn per battle, as for sampled pairs (position bias).
      swapped: opts.random() < 0.5,
      goldPairId: pick.id,
      leaseExpiresAt: opts.leaseExpiresAt,
      createdAt: opts.now,
    },
    select: { id: true },
  });
  return { battleId: battle.id, promptId: pick.promptId, promptText: pick.promptText };
}

/** The texts a gold battle shows in slots A and B (its pair, in the battle's drawn order). */
export function goldSlots(pair: { completionA: string; completionB: string }, swapped: boolean): { A: string; B: string } {
  return swapped ? { A: pair.completionB, B: pair.completionA } : { A: pair.completionA, B: pair.completionB };
}
