// Rating benchmark at LMSYS scale: 1.8M battles among 129 models (the size of FastChat's
// public clean_battle dump). Reference on this machine kind, FastChat's Python: dedup 1.9 s,
// one Bradley–Terry fit 0.035 s, 100 bootstrap rounds 4.9 s (≈ 7 s in all).
// Prints JSON lines; asserts nothing about time.
import {
  type BattleRecord,
  bootstrap,
  dedupBattles,
  fitBradleyTerry,
  type Outcome,
  onlineElo,
  parseCleanBattles,
  toCleanBattleLines,
} from "../src/rating/index.ts";
import { createRng } from "../src/rating/random.ts";

const MODELS = Number(process.env.RATING_BENCH_MODELS ?? 129);
const BATTLES = Number(process.env.RATING_BENCH_BATTLES ?? 1_800_000);
const ROUNDS = 100;

function syntheticBattles(): BattleRecord[] {
  const rng = createRng(2024);
  const names = Array.from({ length: MODELS }, (_, i) => `model-${String(i).padStart(3, "0")}`);
  const truth = names.map(() => 1000 + 150 * gaussian(rng));
  // Arena traffic is uneven: popular models fight far more often than old ones.
  const popularity = names.map((_, i) => 1 / (1 + i / 10));
  const cumulative: number[] = [];
  popularity.reduce((s, w, i) => (cumulative[i] = s + w), 0);
  const pick = (): number => {
    const u = rng.next() * cumulative[MODELS - 1];
    let lo = 0,
      hi = MODELS - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const out: BattleRecord[] = new Array(BATTLES);
  let t = 1_700_000_000;
  for (let k = 0; k < BATTLES; k++) {
    const a = pick();
    let b = pick();
    while (b === a) b = pick();
    const pa = 1 / (1 + 10 ** ((truth[b] - truth[a]) / 400));
    const u = rng.next();
    // About a fifth of arena votes are ties; take them from the middle of the probability.
    const winner: Outcome = u < 0.1 ? "tie" : u < 0.2 ? "tie (bothbad)" : rng.next() < pa ? "model_a" : "model_b";
    out[k] = { modelA: names[a], modelB: names[b], winner, tstamp: (t += 0.5) };
  }
  return out;
}

function gaussian(rng: { next(): number }): number {
  return Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
}

function timed<T>(name: string, f: () => T, extra: Record<string, unknown> = {}): T {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const out = f();
  const ms = performance.now() - t0;
  // CPU time too: the machine is shared, and wall time alone swings with other people's jobs.
  const cpu = process.cpuUsage(c0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  console.log(JSON.stringify({ bench: name, ms: Math.round(ms * 10) / 10, cpu_ms: Math.round(cpuMs * 10) / 10, ...extra }));
  return out;
}

const battles = syntheticBattles();
const t0 = performance.now();
const cells = timed("rating_dedup", () => dedupBattles(battles), { battles: BATTLES, models: MODELS });
const fit = timed("rating_fit", () => fitBradleyTerry(cells));
const boot = timed("rating_bootstrap100", () => bootstrap(cells, { rounds: ROUNDS, seed: 1 }), { rounds: ROUNDS });
const pipelineMs = performance.now() - t0;
timed("rating_elo", () => onlineElo(battles));
const totalMs = performance.now() - t0;
// What the CLI adds on top: parsing the same battles from clean_battle JSON lines.
const jsonl = toCleanBattleLines(battles);
timed("rating_parse_jsonl", () => parseCleanBattles(jsonl), { mb: Math.round(jsonl.length / 1e6) });
console.log(
  JSON.stringify({
    bench: "rating_total",
    ms: Math.round(totalMs * 10) / 10,
    dedup_fit_bootstrap_ms: Math.round(pipelineMs * 10) / 10,
    fastchat_reference_ms: 7000,
    cells: cells.counts.length,
    fit_iterations: fit.iterations,
    fit_grad_norm: fit.gradNorm,
    unconverged_rounds: boot.unconvergedRounds,
  }),
);
