// Who takes the second-labeler slots of overlap prompts (issue 15). Overlap is where the
// reliability model learns about labelers, so those slots go preferably to the labelers whose
// estimate is least certain: a labeler with no more checked votes (votes on a pair someone else
// also judged, or on a gold pair) than the median labeler fills open overlap slots first, as
// before; one with more takes fresh prompts first and leaves the overlap slots to the others,
// taking one only when no fresh prompt is left. The share of prompts with a second labeler is
// the arena's `agreementShare`.
//
// Checked votes stand in for the width of the model's interval (which shrinks like
// 1/√(checked votes)); counting them is one aggregate query, kept for a minute per process.
import type { PrismaClient } from "../../../generated/prisma/client.ts";

const CACHE_MS = 60_000;
const caches = new WeakMap<object, { at: number; checked: Promise<Map<string, number>> }>();

async function checkedVotes(db: PrismaClient): Promise<Map<string, number>> {
  const rows = await db.$queryRaw<{ labelerId: string; checked: number }[]>`
    SELECT v."labelerId", count(*) FILTER (WHERE b."goldPairId" IS NOT NULL OR p."activeBattles" >= 2)::int AS checked
      FROM "Vote" v JOIN "Battle" b ON b.id = v."battleId" JOIN "Prompt" p ON p.id = b."promptId"
     GROUP BY v."labelerId"`;
  return new Map(rows.map((r) => [r.labelerId, r.checked]));
}

/** The median of the labelers' checked-vote counts; 0 without labelers. */
export function medianOf(values: Iterable<number>): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return 0;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** True when this labeler should fill open overlap slots first (their estimate is among the least certain). */
export async function fillsOverlapFirst(opts: { db: PrismaClient; labelerId: string; enabled: boolean; nowMs?: number }): Promise<boolean> {
  if (!opts.enabled) return true;
  const now = opts.nowMs ?? Date.now();
  let entry = caches.get(opts.db);
  if (!entry || now - entry.at > CACHE_MS) {
    entry = { at: now, checked: checkedVotes(opts.db) };
    caches.set(opts.db, entry);
    // A failed count must not stick for a minute.
    entry.checked.catch(() => caches.delete(opts.db));
  }
  const checked = await entry.checked;
  return (checked.get(opts.labelerId) ?? 0) <= medianOf(checked.values());
}

/** Forgets the cached counts (tests). */
export function forgetOverlapCounts(db: PrismaClient): void {
  caches.delete(db);
}
