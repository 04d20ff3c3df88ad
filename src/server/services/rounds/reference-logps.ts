// log π_ref(y | x) per (completion, reference version), computed once and kept in RefLogprob:
// with a fixed reference, every later round reuses them; with an iterative one, each new
// reference version computes them once for the pairs it is asked about.

import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { type CausalLM, scoreCompletions } from "../../../lm/index.ts";

export interface ScoredSequence {
  completionId: string;
  promptIds: number[];
  completionIds: number[];
  /** true when the stored completion was cut to fit the context: its score is not cached */
  truncated: boolean;
}

/** Summed reference log-probs by completion id, from the cache where possible. */
export async function referenceLogprobs(opts: {
  db: PrismaClient;
  referenceVersionId: number;
  reference: CausalLM;
  sequences: ScoredSequence[];
  batchSize?: number;
}): Promise<{ logps: Map<string, number>; cached: number; computed: number }> {
  const { db, referenceVersionId } = opts;
  const unique = new Map<string, ScoredSequence>();
  for (const s of opts.sequences) unique.set(s.completionId, s);
  const cacheable = [...unique.values()].filter((s) => !s.truncated);
  const rows = cacheable.length
    ? await db.refLogprob.findMany({
        where: { policyVersionId: referenceVersionId, completionId: { in: cacheable.map((s) => s.completionId) } },
        select: { completionId: true, logprob: true, tokenCount: true },
      })
    : [];
  const logps = new Map<string, number>();
  for (const r of rows) {
    // A row for a different token count was scored on other ids: ignore it.
    if (r.tokenCount === unique.get(r.completionId)?.completionIds.length) logps.set(r.completionId, r.logprob);
  }
  const missing = [...unique.values()].filter((s) => !logps.has(s.completionId));
  if (missing.length) {
    // Scored in chunks with a yield between them: scoring is synchronous, and a trainer that
    // blocks its event loop too long cannot renew its lease.
    const sum: number[] = [];
    const chunk = 4 * (opts.batchSize ?? 16);
    for (let i = 0; i < missing.length; i += chunk) {
      const part = missing.slice(i, i + chunk).map((s) => ({ promptIds: s.promptIds, completionIds: s.completionIds }));
      sum.push(...scoreCompletions(opts.reference, part, { batchSize: opts.batchSize ?? 16 }).sum);
      await new Promise((r) => setImmediate(r));
    }
    missing.forEach((s, i) => logps.set(s.completionId, sum[i]!));
    const toStore = missing.map((s, i) => ({ s, lp: sum[i]! })).filter(({ s, lp }) => !s.truncated && Number.isFinite(lp));
    if (toStore.length) {
      await db.refLogprob.createMany({
        data: toStore.map(({ s, lp }) => ({
          completionId: s.completionId,
          policyVersionId: referenceVersionId,
          logprob: lp,
          tokenCount: s.completionIds.length,
        })),
        skipDuplicates: true,
      });
    }
  }
  return { logps, cached: unique.size - missing.length, computed: missing.length };
}
