// Inter-rater agreement on overlapping items (the same prompt and the same two completions in
// the same order). Pure functions over (item, rater, category) ratings.

export interface Rating {
  item: string;
  rater: string;
  category: string;
}

function byItem(ratings: Rating[]): Map<string, Map<string, string>> {
  const items = new Map<string, Map<string, string>>();
  for (const r of ratings) {
    let m = items.get(r.item);
    if (!m) items.set(r.item, (m = new Map()));
    m.set(r.rater, r.category);
  }
  return items;
}

/**
 * Cohen's κ between two raters on the items both rated: (p_o − p_e) / (1 − p_e). Null with no
 * shared items; 1 when they agree on everything even if p_e = 1 (a single category used).
 */
export function cohenKappa(ratings: Rating[], raterA: string, raterB: string): { kappa: number | null; shared: number } {
  const pairs: [string, string][] = [];
  for (const m of byItem(ratings).values()) {
    const a = m.get(raterA);
    const b = m.get(raterB);
    if (a !== undefined && b !== undefined) pairs.push([a, b]);
  }
  const n = pairs.length;
  if (n === 0) return { kappa: null, shared: 0 };
  const po = pairs.filter(([a, b]) => a === b).length / n;
  const countA = new Map<string, number>();
  const countB = new Map<string, number>();
  for (const [a, b] of pairs) {
    countA.set(a, (countA.get(a) ?? 0) + 1);
    countB.set(b, (countB.get(b) ?? 0) + 1);
  }
  let pe = 0;
  for (const [cat, ca] of countA) pe += (ca / n) * ((countB.get(cat) ?? 0) / n);
  if (pe === 1) return { kappa: po === 1 ? 1 : 0, shared: n };
  return { kappa: (po - pe) / (1 - pe), shared: n };
}

/**
 * Fleiss' κ over items with at least two ratings (per-item agreement averaged, which allows a
 * varying number of raters per item). Null when no item has two ratings.
 */
export function fleissKappa(ratings: Rating[]): { kappa: number | null; items: number } {
  let sumP = 0;
  let items = 0;
  let totalRatings = 0;
  const catTotals = new Map<string, number>();
  for (const m of byItem(ratings).values()) {
    const n = m.size;
    if (n < 2) continue;
    const counts = new Map<string, number>();
    for (const c of m.values()) counts.set(c, (counts.get(c) ?? 0) + 1);
    let sq = 0;
    for (const [c, k] of counts) {
      sq += k * k;
      catTotals.set(c, (catTotals.get(c) ?? 0) + k);
    }
    sumP += (sq - n) / (n * (n - 1));
    items += 1;
    totalRatings += n;
  }
  if (items === 0) return { kappa: null, items: 0 };
  const pBar = sumP / items;
  let pe = 0;
  for (const k of catTotals.values()) pe += (k / totalRatings) ** 2;
  if (pe === 1) return { kappa: pBar === 1 ? 1 : 0, items };
  return { kappa: (pBar - pe) / (1 - pe), items };
}

/**
 * For each rater: on items where the other raters have a strict plurality, the share of the
 * rater's ratings equal to it. Items without a clear majority among the others are not counted.
 */
export function majorityAgreement(ratings: Rating[]): Map<string, { agree: number; compared: number }> {
  const out = new Map<string, { agree: number; compared: number }>();
  for (const m of byItem(ratings).values()) {
    if (m.size < 2) continue;
    for (const [rater, mine] of m) {
      const counts = new Map<string, number>();
      for (const [other, c] of m) if (other !== rater) counts.set(c, (counts.get(c) ?? 0) + 1);
      const sorted = [...counts.entries()].sort((a, b) => b[1] - a[1]);
      if (sorted.length > 1 && sorted[0]![1] === sorted[1]![1]) continue;
      const s = out.get(rater) ?? { agree: 0, compared: 0 };
      s.compared += 1;
      if (sorted[0]![0] === mine) s.agree += 1;
      out.set(rater, s);
    }
  }
  return out;
}

/** For one rater: how often another rater of the same item chose the same (pairwise). */
export function pairwiseAgreement(ratings: Rating[], rater: string): { agree: number; compared: number } {
  let agree = 0;
  let compared = 0;
  for (const m of byItem(ratings).values()) {
    const mine = m.get(rater);
    if (mine === undefined) continue;
    for (const [other, c] of m) {
      if (other === rater) continue;
      compared += 1;
      if (c === mine) agree += 1;
    }
  }
  return { agree, compared };
}
