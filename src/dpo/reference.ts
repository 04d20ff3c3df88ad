// Which policy version is the DPO reference π_ref for the next round.
//
//   "fixed"      π_ref is always the lineage's root (the original house model). Every round is
//                regularised towards the same model, so KL budgets and implicit rewards stay
//                comparable across rounds, and reference log-probs of old completions never
//                need recomputing.
//   "iterative"  π_ref of round k is the policy of round k−1, i.e. the version being trained
//                from (iterative / online DPO). Each round may move at most "one KL budget"
//                from its start, so the policy can drift further overall; reference log-probs
//                must be recomputed for every new reference version.
//
// Versions are identified by whatever the caller uses (database ids, names); a lineage is the
// chain root → … → base, where base is the version the new round starts from.

export type ReferenceStrategy = "fixed" | "iterative";
export const REFERENCE_STRATEGIES: readonly ReferenceStrategy[] = ["fixed", "iterative"];

export function resolveReference<V>(strategy: ReferenceStrategy, lineage: readonly V[]): V {
  if (lineage.length === 0) throw new Error("resolveReference: the lineage is empty; it must end with the base version of the round");
  if (strategy === "fixed") return lineage[0];
  if (strategy === "iterative") return lineage[lineage.length - 1];
  throw new Error(`resolveReference: unknown strategy "${String(strategy)}" (expected ${REFERENCE_STRATEGIES.join(" or ")})`);
}

/**
 * Walks parent links from `base` to the root and returns root → … → base.
 * `parentOf` returns null/undefined for the root; a cycle is reported rather than looped on.
 */
export function lineageOf<V>(base: V, parentOf: (v: V) => V | null | undefined): V[] {
  const chain: V[] = [base];
  const seen = new Set<V>([base]);
  for (let v = parentOf(base); v !== null && v !== undefined; v = parentOf(v)) {
    if (seen.has(v)) throw new Error(`lineageOf: version ${String(v)} is its own ancestor (a cycle in the parent links)`);
    seen.add(v);
    chain.push(v);
  }
  return chain.reverse();
}
