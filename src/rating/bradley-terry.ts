// Bradley–Terry maximum likelihood, FastChat's `compute_mle_elo` / `compute_bt` model:
// P(a beats b) = 1 / (1 + 10^((R_b − R_a)/400)), ties count as half a win for each side,
// R = 400·θ + 1000 with Σθ = 0. FastChat fits it with L-BFGS; the problem has one parameter
// per model and a dense Hessian we can afford, so Newton's method converges in a handful of
// steps (quadratically) and a warm-started bootstrap refit usually needs two or three.
import { type BattleCells, dedupBattles, isBattleCells } from "./cells.ts";
import { type Anchor, applyAnchor, type BattleRecord, INITIAL_RATING, RATING_BASE, RATING_SCALE } from "./types.ts";

export interface BradleyTerryOptions {
  anchor?: Anchor;
  /** Stop when the Euclidean norm of the gradient of the mean log-likelihood is below this. */
  tol?: number;
  maxIterations?: number;
  /**
   * L2 penalty on θ (in the mean log-likelihood's units). 0, FastChat's choice, is the plain
   * MLE, which does not exist when a model won or lost every battle: such a fit reports
   * `converged: false` with a very large rating. A small value (e.g. 1e-4) keeps it finite.
   */
  l2?: number;
}

export interface BradleyTerryFit {
  models: string[];
  ratings: Record<string, number>;
  iterations: number;
  gradNorm: number;
  /** Gradient below tolerance and a finite maximum exists (see `mleExists`). */
  converged: boolean;
  /** False when some group of models never lost (or never won) against the rest. */
  mleExists: boolean;
}

const LN_BASE = Math.log(RATING_BASE);

export function fitBradleyTerry(input: readonly BattleRecord[] | BattleCells, opts: BradleyTerryOptions = {}): BradleyTerryFit {
  const cells = isBattleCells(input) ? input : dedupBattles(input);
  const fit = fitTheta(cells, cells.counts, undefined, opts);
  const ratings = thetaToRatings(cells.models, fit.theta, opts.anchor);
  return {
    models: cells.models,
    ratings: Object.fromEntries(cells.models.map((m, i) => [m, ratings[i]])),
    iterations: fit.iterations,
    gradNorm: fit.gradNorm,
    converged: fit.converged,
    mleExists: fit.mleExists,
  };
}

export function thetaToRatings(models: readonly string[], theta: Float64Array, anchor?: Anchor): Float64Array {
  const r = new Float64Array(theta.length);
  for (let i = 0; i < theta.length; i++) r[i] = RATING_SCALE * theta[i] + INITIAL_RATING;
  applyAnchor(models, r, anchor);
  return r;
}

export interface ThetaFit {
  theta: Float64Array;
  iterations: number;
  gradNorm: number;
  converged: boolean;
  /** False when some group of models never lost (or never won) against the rest. */
  mleExists: boolean;
}

/**
 * Newton's method with backtracking on the mean negative log-likelihood. `counts` has the
 * layout of `cells.counts` (the bootstrap passes resampled counts). θ is in log10 units.
 */
export function fitTheta(
  cells: BattleCells,
  counts: Float64Array,
  warmStart: Float64Array | undefined,
  opts: BradleyTerryOptions = {},
  polish = true,
): ThetaFit {
  const tol = opts.tol ?? 1e-6;
  const maxIterations = opts.maxIterations ?? 100;
  const l2 = opts.l2 ?? 0;
  const m = cells.models.length;
  const p = cells.pairI.length;
  // Per pair: battles n and "wins" s of the lower-indexed model, ties as half.
  const n = new Float64Array(p);
  const s = new Float64Array(p);
  let total = 0;
  for (let q = 0; q < p; q++) {
    const w = counts[3 * q],
      l = counts[3 * q + 1],
      t = counts[3 * q + 2];
    n[q] = w + l + t;
    s[q] = w + 0.5 * t;
    total += n[q];
  }
  const theta = new Float64Array(m);
  if (warmStart) theta.set(warmStart);
  if (m === 0 || total === 0) return { theta, iterations: 0, gradNorm: 0, converged: true, mleExists: true };
  const inv = 1 / total;
  const grad = new Float64Array(m);
  const hess = new Float64Array(m * m);
  const step = new Float64Array(m);
  const trial = new Float64Array(m);

  const loss = (th: Float64Array): number => {
    let sum = 0;
    for (let q = 0; q < p; q++) {
      if (n[q] === 0) continue;
      const z = LN_BASE * (th[cells.pairI[q]] - th[cells.pairJ[q]]);
      // −[s·log σ(z) + (n−s)·log σ(−z)] = n·softplus(−z) + (n−s)·z, written to avoid overflow.
      sum += n[q] * softplus(-z) + (n[q] - s[q]) * z;
    }
    let reg = 0;
    for (let i = 0; i < m; i++) reg += th[i] * th[i];
    return sum * inv + 0.5 * l2 * reg;
  };

  // Derivatives of the mean NLL; returns the gradient norm.
  const derivatives = (): number => {
    grad.fill(0);
    hess.fill(0);
    for (let q = 0; q < p; q++) {
      if (n[q] === 0) continue;
      const i = cells.pairI[q],
        j = cells.pairJ[q];
      const z = LN_BASE * (theta[i] - theta[j]);
      const prob = 1 / (1 + Math.exp(-z));
      const g = LN_BASE * (n[q] * prob - s[q]) * inv;
      grad[i] += g;
      grad[j] -= g;
      const h = LN_BASE * LN_BASE * n[q] * prob * (1 - prob) * inv;
      hess[i * m + i] += h;
      hess[j * m + j] += h;
      hess[i * m + j] -= h;
      hess[j * m + i] -= h;
    }
    let norm = 0;
    for (let i = 0; i < m; i++) {
      grad[i] += l2 * theta[i];
      hess[i * m + i] += l2;
      norm += grad[i] * grad[i];
    }
    return Math.sqrt(norm);
  };

  center(theta);
  let current = loss(theta);
  let gradNorm = derivatives();
  let iterations = 0;
  // One Newton step past the tolerance costs little and, converging quadratically, takes the
  // ratings from ~1e-4 to ~1e-10 rating points of the optimum (displayed numbers then agree
  // with any other exact solver). Bootstrap rounds skip it: their spread dwarfs that.
  let polishSteps = polish ? 1 : 0;
  while (iterations < maxIterations) {
    if (gradNorm < tol && polishSteps-- <= 0) break;
    iterations++;
    // The likelihood is unchanged by adding a constant to every θ, so the Hessian is singular
    // along 1; adding c·11ᵀ removes that null direction without changing the step (the
    // gradient is orthogonal to 1). A tiny ridge handles comparison graphs that fall apart
    // into disconnected groups, whose relative level the data cannot determine.
    let diagMax = 0;
    for (let i = 0; i < m; i++) diagMax = Math.max(diagMax, hess[i * m + i]);
    const c = diagMax / m;
    for (let k = 0; k < m * m; k++) hess[k] += c;
    let ridge = 1e-12 * diagMax + 1e-300;
    for (;;) {
      for (let i = 0; i < m; i++) step[i] = -grad[i];
      if (choleskySolve(hess, step, m, ridge)) break;
      ridge *= 100;
      if (ridge > diagMax) throw new Error("Bradley–Terry: Newton system is not solvable (non-finite counts?)");
    }
    // Backtracking keeps every iteration a descent step even far from the optimum.
    let t = 1;
    let next = Infinity;
    for (let halvings = 0; halvings < 40; halvings++, t *= 0.5) {
      for (let i = 0; i < m; i++) trial[i] = theta[i] + t * step[i];
      next = loss(trial);
      if (next <= current + 1e-14 * Math.abs(current)) break;
    }
    if (!(next <= current + 1e-14 * Math.abs(current))) break; // no descent possible: at machine precision
    theta.set(trial);
    center(theta);
    current = next;
    gradNorm = derivatives();
  }
  const mleExists = l2 > 0 || everyComponentStronglyConnected(cells, counts);
  return { theta, iterations, gradNorm, converged: gradNorm < tol && mleExists, mleExists };
}

/**
 * The unpenalised MLE is finite iff, within every connected group of models, each subset has
 * won (or tied) at least once against the rest (Zermelo 1929; Ford 1957): the "beat or tied"
 * digraph must be strongly connected per component. Otherwise the likelihood keeps rising as
 * the unbeaten side's ratings go to infinity, and the gradient merely becomes small.
 */
function everyComponentStronglyConnected(cells: BattleCells, counts: Float64Array): boolean {
  const m = cells.models.length;
  const out: number[][] = Array.from({ length: m }, () => []);
  const into: number[][] = Array.from({ length: m }, () => []);
  const link = (from: number, to: number) => {
    out[from].push(to);
    into[to].push(from);
  };
  for (let q = 0; q < cells.pairI.length; q++) {
    const i = cells.pairI[q],
      j = cells.pairJ[q];
    const w = counts[3 * q],
      l = counts[3 * q + 1],
      t = counts[3 * q + 2];
    if (w + t > 0) link(i, j);
    if (l + t > 0) link(j, i);
  }
  // Strongly connected per component ⇔ from each component's first model every member is
  // reachable both along and against the edges (the underlying undirected graph defines it).
  const both = out.map((o, v) => [...o, ...into[v]]);
  const seenUndirected = new Uint8Array(m);
  const reach = (start: number, adj: number[][], mark: Uint8Array): void => {
    const stack = [start];
    mark[start] = 1;
    while (stack.length) for (const v of adj[stack.pop()!]) if (!mark[v]) (mark[v] = 1), stack.push(v);
  };
  for (let s = 0; s < m; s++) {
    if (seenUndirected[s] || out[s].length + into[s].length === 0) continue;
    const fwd = new Uint8Array(m),
      bwd = new Uint8Array(m);
    reach(s, out, fwd);
    reach(s, into, bwd);
    const comp = new Uint8Array(m);
    reach(s, both, comp);
    for (let v = 0; v < m; v++) {
      if (!comp[v]) continue;
      seenUndirected[v] = 1;
      if (!fwd[v] || !bwd[v]) return false;
    }
  }
  return true;
}

function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

function center(theta: Float64Array): void {
  let mean = 0;
  for (let i = 0; i < theta.length; i++) mean += theta[i];
  mean /= theta.length;
  for (let i = 0; i < theta.length; i++) theta[i] -= mean;
}

/**
 * Solves (A + ridge·I) x = b in place (b becomes x) for symmetric positive definite A,
 * reading only A's lower triangle. Returns false if the matrix is not positive definite.
 */
function choleskySolve(a: Float64Array, b: Float64Array, m: number, ridge: number): boolean {
  const l = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = a[i * m + j] + (i === j ? ridge : 0);
      const ri = i * m,
        rj = j * m;
      for (let k = 0; k < j; k++) sum -= l[ri + k] * l[rj + k];
      if (i === j) {
        if (!(sum > 0)) return false;
        l[ri + i] = Math.sqrt(sum);
      } else {
        l[ri + j] = sum / l[rj + j];
      }
    }
  }
  for (let i = 0; i < m; i++) {
    let sum = b[i];
    for (let k = 0; k < i; k++) sum -= l[i * m + k] * b[k];
    b[i] = sum / l[i * m + i];
  }
  for (let i = m - 1; i >= 0; i--) {
    let sum = b[i];
    for (let k = i + 1; k < m; k++) sum -= l[k * m + i] * b[k];
    b[i] = sum / l[i * m + i];
  }
  return true;
}
