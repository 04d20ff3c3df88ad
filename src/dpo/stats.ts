// The few statistics the gates need: a mean with its standard error clustered by a group key
// (prompts: samples or pairs of one prompt are not independent evidence), and the normal
// quantile / tail for one-sided bounds and p-values.

export interface ClusteredMean {
  mean: number;
  /** cluster-robust standard error of the mean (NaN with fewer than two clusters) */
  stderr: number;
  n: number;
  clusters: number;
}

/**
 * Mean of `values` with the cluster-robust (CR1) standard error: the residuals are summed
 * within each cluster first, so k correlated samples of one prompt count as one piece of
 * evidence, not k. With one value per cluster it is the usual s/√n.
 */
export function clusteredMean(values: ArrayLike<number>, clusters: ArrayLike<string | number>): ClusteredMean {
  const n = values.length;
  if (clusters.length !== n) throw new Error(`clusteredMean: ${n} values but ${clusters.length} cluster keys`);
  if (n === 0) return { mean: NaN, stderr: NaN, n: 0, clusters: 0 };
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i];
  const mean = sum / n;
  const resid = new Map<string | number, number>();
  for (let i = 0; i < n; i++) resid.set(clusters[i], (resid.get(clusters[i]) ?? 0) + values[i] - mean);
  const g = resid.size;
  if (g < 2) return { mean, stderr: NaN, n, clusters: g };
  let ss = 0;
  for (const r of resid.values()) ss += r * r;
  return { mean, stderr: Math.sqrt((g / (g - 1)) * ss) / n, n, clusters: g };
}

/** Standard normal CDF (erfc by the Numerical Recipes Chebyshev fit, |error| < 1.2e-7). */
export function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * z);
  const erfc =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - erfc / 2 : erfc / 2;
}

/** z with Φ(z) = p, by bisection on normalCdf (p in (0, 1)). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new Error(`normalQuantile: p must be in (0, 1), got ${p}`);
  let lo = -10,
    hi = 10;
  for (let i = 0; i < 80; i++) {
    const mid = (lo + hi) / 2;
    if (normalCdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** One-sided bounds of a clustered mean at `confidence`, and the p-value of "mean ≤ 0". */
export function oneSided(m: ClusteredMean, confidence: number): { lower: number; upper: number; pValue: number } {
  const z = normalQuantile(confidence);
  const se = Number.isFinite(m.stderr) ? m.stderr : Infinity;
  const pValue = se === 0 ? (m.mean > 0 ? 0 : 1) : se === Infinity ? 1 : 1 - normalCdf(m.mean / se);
  return { lower: m.mean - z * se, upper: m.mean + z * se, pValue };
}
