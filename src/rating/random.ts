// Seeded random numbers for bootstrap resampling and simulations.
// Everything here is deterministic for a given seed on every platform (32-bit integer
// arithmetic only), so a bootstrap CI or a simulated vote stream can be reproduced exactly.

/** A seeded uniform generator. */
export interface Rng {
  /** Uniform double in [0, 1) with 53 random bits. */
  next(): number;
  /** Uniform unsigned 32-bit integer. */
  uint32(): number;
}

/**
 * xoshiro128** (Blackman & Vigna), state seeded through splitmix32 so that nearby seeds
 * (0, 1, 2, …) give unrelated streams. Any finite number is a valid seed; non-integers and
 * values beyond 32 bits are folded into the state rather than silently truncated.
 */
export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new Error(`createRng: seed must be a finite number, got ${seed}`);
  let sm = (Math.floor(seed) | 0) ^ Math.floor(seed / 4294967296) ^ Math.round((seed % 1) * 1e9);
  const splitmix = (): number => {
    sm = (sm + 0x9e3779b9) | 0;
    let t = sm ^ (sm >>> 16);
    t = Math.imul(t, 0x21f0aaad);
    t ^= t >>> 15;
    t = Math.imul(t, 0x735a2d97);
    return (t ^ (t >>> 15)) | 0;
  };
  let s0 = splitmix(),
    s1 = splitmix(),
    s2 = splitmix(),
    s3 = splitmix();
  // An all-zero state would emit zeros forever.
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1;
  const uint32 = (): number => {
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9);
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return r >>> 0;
  };
  return {
    uint32,
    next: () => ((uint32() >>> 5) * 67108864 + (uint32() >>> 6)) / 9007199254740992,
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

// ln(k!) exactly (to rounding) from a table for small k, Stirling's series beyond it, where
// its truncation error is far below double precision.
const LNFACT_TABLE_SIZE = 1024;
const lnFactTable = (() => {
  const t = new Float64Array(LNFACT_TABLE_SIZE);
  for (let i = 2; i < LNFACT_TABLE_SIZE; i++) t[i] = t[i - 1] + Math.log(i);
  return t;
})();
const HALF_LN_2PI = 0.5 * Math.log(2 * Math.PI);

export function lnFactorial(k: number): number {
  if (k < LNFACT_TABLE_SIZE) return lnFactTable[k];
  const x = k + 1;
  const x2 = x * x;
  return (x - 0.5) * Math.log(x) - x + HALF_LN_2PI + (1 / 12 - (1 / 360 - 1 / (1260 * x2)) / x2) / x;
}

/** One Binomial(n, p) draw. Exact (inversion for small means, Hörmann's BTRS otherwise). */
export function binomial(rng: Rng, n: number, p: number): number {
  if (n <= 0 || p <= 0) return 0;
  if (p >= 1) return n;
  if (p > 0.5) return n - binomial(rng, n, 1 - p);
  return n * p < 10 ? binomialInversion(rng, n, p) : binomialBtrs(rng, n, p);
}

function binomialInversion(rng: Rng, n: number, p: number): number {
  const q = 1 - p;
  const s = p / q;
  const a = (n + 1) * s;
  const p0 = Math.exp(n * Math.log1p(-p));
  // With mean < 10 the tail beyond this bound has probability far below 2^-53; reaching it
  // means rounding ate the last bit of u, so draw again rather than return a wrong tail.
  const bound = Math.min(n, 200);
  for (;;) {
    let u = rng.next();
    let f = p0;
    let x = 0;
    while (u > f) {
      u -= f;
      x++;
      if (x > bound) break;
      f *= a / x - s;
    }
    if (x <= bound) return x;
  }
}

// Transformed rejection with squeeze (W. Hörmann, "The generation of binomial random
// variates", J. Stat. Comput. Simul. 46, 1993). Valid for p <= 0.5 and n·p >= 10; expected
// iterations ≈ 1.15, independent of n, which is what makes bootstrap cost scale with the
// number of distinct cells instead of the number of battles.
function binomialBtrs(rng: Rng, n: number, p: number): number {
  const q = 1 - p;
  const spq = Math.sqrt(n * p * q);
  const b = 1.15 + 2.53 * spq;
  const a = -0.0873 + 0.0248 * b + 0.01 * p;
  const c = n * p + 0.5;
  const vr = 0.92 - 4.2 / b;
  const alpha = (2.83 + 5.1 / b) * spq;
  // The exact-acceptance constants need logs; most draws end at the squeeze, so defer them.
  let lpq = NaN,
    m = 0,
    h = 0;
  for (;;) {
    const u = rng.next() - 0.5;
    let v = rng.next();
    const us = 0.5 - Math.abs(u);
    const k = Math.floor(((2 * a) / us + b) * u + c);
    if (k < 0 || k > n) continue;
    if (us >= 0.07 && v <= vr) return k;
    if (Number.isNaN(lpq)) {
      lpq = Math.log(p / q);
      m = Math.floor((n + 1) * p);
      h = lnFactorial(m) + lnFactorial(n - m);
    }
    v = Math.log((v * alpha) / (a / (us * us) + b));
    if (v <= h - lnFactorial(k) - lnFactorial(n - k) + (k - m) * lpq) return k;
  }
}

/**
 * Prepares repeated Multinomial(n, weights / Σweights) draws by conditional binomials:
 * cell k gets Binomial(remaining, w_k / Σ_{j≥k} w_j). Suffix sums are computed once so the
 * conditional probabilities do not drift from repeated subtraction.
 */
export function multinomialSampler(weights: ArrayLike<number>): (rng: Rng, n: number, out: Float64Array) => void {
  const k = weights.length;
  const suffix = new Float64Array(k + 1);
  for (let i = k - 1; i >= 0; i--) {
    const w = weights[i];
    if (!(w >= 0) || !Number.isFinite(w)) throw new Error(`multinomial: weight ${i} is ${w}; weights must be finite and >= 0`);
    suffix[i] = suffix[i + 1] + w;
  }
  if (k > 0 && suffix[0] <= 0) throw new Error("multinomial: all weights are zero");
  return (rng, n, out) => {
    if (out.length < k) throw new Error(`multinomial: output has ${out.length} cells, need ${k}`);
    let remaining = n;
    for (let i = 0; i < k; i++) {
      if (remaining === 0) {
        out[i] = 0;
        continue;
      }
      const w = weights[i];
      // The last cell with weight takes what is left; its conditional probability is 1.
      const x = suffix[i + 1] <= 0 ? remaining : binomial(rng, remaining, Math.min(1, w / suffix[i]));
      out[i] = x;
      remaining -= x;
    }
  };
}
