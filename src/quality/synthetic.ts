// Synthetic votes from labelers with known skills (the sim's decision model), for the tests and
// the benchmark: each item is a pair with true rewards, judged by a few distinct labelers.
import { createRng, decide, type LabelerProfile, preferenceProbability } from "../sim/labeler.ts";
import type { GoldAnswer, QualityVote } from "./types.ts";

export type SyntheticKind = "careful" | "random" | "always-A";

export interface SyntheticLabeler {
  id: string;
  kind: SyntheticKind;
  temperature: number;
  /** expected share of this labeler's votes on pairs with a preference that point the wrong way */
  trueFlipRate: number;
}

export interface SyntheticOptions {
  labelers: number;
  votesPerLabeler: number;
  /** distinct labelers per item (1 = no overlap at all) */
  overlap: number;
  randomFraction?: number;
  alwaysAFraction?: number;
  /** reward units; the sim's careful labelers are Bradley–Terry draws at this temperature */
  temperature?: number;
  /** each careful labeler's temperature is temperature · exp(spread · N(0, 1)) */
  temperatureSpread?: number;
  /** |rA − rB| below this is a tie for careful labelers, and the true answer is NONE */
  tieThreshold?: number;
  /**
   * How careful labelers err. "bradley-terry" (the sim's): mostly on close pairs, so two careful
   * labelers tend to err on the same pairs. "uniform": each careful labeler flips the side with
   * a fixed probability drawn from [0.02, 0.4] on every pair, the one-coin model's own assumption.
   */
  noise?: "bradley-terry" | "uniform";
  /** share of items given a gold answer (their true answer) */
  goldShare?: number;
  seed?: number;
}

export interface SyntheticData {
  votes: QualityVote[];
  gold: GoldAnswer[];
  labelers: SyntheticLabeler[];
  /** true answer per item id */
  truth: Map<string, "A" | "B" | "TIE">;
}

export function syntheticVotes(o: SyntheticOptions): SyntheticData {
  const rng = createRng(o.seed ?? 1);
  const gaussian = () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  const temperature = o.temperature ?? 1;
  const tieThreshold = o.tieThreshold ?? 0;
  const nRandom = Math.round(o.labelers * (o.randomFraction ?? 0));
  const nAlways = Math.round(o.labelers * (o.alwaysAFraction ?? 0));
  const labelers: SyntheticLabeler[] = [];
  const profiles: LabelerProfile[] = [];
  const fixedFlip: number[] = [];
  const uniform = o.noise === "uniform";
  for (let j = 0; j < o.labelers; j++) {
    const kind: SyntheticKind = j < nRandom ? "random" : j < nRandom + nAlways ? "always-A" : "careful";
    const t = temperature * Math.exp((o.temperatureSpread ?? 0) * gaussian());
    labelers.push({ id: `labeler-${String(j).padStart(3, "0")}`, kind, temperature: t, trueFlipRate: 0 });
    fixedFlip.push(0.02 + 0.38 * rng.next());
    profiles.push({ temperature: t, tieThreshold, careless: kind === "random" });
  }
  const wrong = labelers.map(() => ({ wrong: 0, total: 0 }));
  const votes: QualityVote[] = [];
  const gold: GoldAnswer[] = [];
  const truth = new Map<string, "A" | "B" | "TIE">();
  let itemCount = 0;
  const order = labelers.map((_, j) => j);
  // Each round every labeler votes once: shuffle and cut into groups of `overlap`.
  for (let round = 0; round < o.votesPerLabeler; round++) {
    for (let j = order.length - 1; j > 0; j--) {
      const k = Math.floor(rng.next() * (j + 1));
      [order[j], order[k]] = [order[k]!, order[j]!];
    }
    for (let g = 0; g < order.length; g += o.overlap) {
      const item = `item-${itemCount++}`;
      const rA = gaussian();
      const rB = gaussian();
      const answer = Math.abs(rA - rB) < tieThreshold ? "TIE" : rA > rB ? "A" : "B";
      truth.set(item, answer);
      if (rng.next() < (o.goldShare ?? 0)) gold.push({ item, answer });
      for (const j of order.slice(g, g + o.overlap)) {
        const l = labelers[j]!;
        let vote: "A" | "B" | "TIE";
        if (l.kind === "always-A") vote = "A";
        else if (uniform && l.kind === "careful") {
          const flip = rng.next() < fixedFlip[j]!;
          vote = answer === "TIE" ? "TIE" : flip ? (answer === "A" ? "B" : "A") : answer;
        } else vote = decide(rA, rB, profiles[j]!, rng);
        votes.push({ labeler: l.id, item, answer: vote });
        if (answer === "TIE") continue;
        // Expected, not drawn, error: the truth the tests compare against has no sampling noise.
        const w = wrong[j]!;
        w.total++;
        w.wrong +=
          l.kind === "random"
            ? 0.5
            : l.kind === "always-A"
              ? answer === "B"
                ? 1
                : 0
              : uniform
                ? fixedFlip[j]!
                : preferenceProbability(-Math.abs(rA - rB), 0, l.temperature);
      }
    }
  }
  labelers.forEach((l, j) => {
    l.trueFlipRate = wrong[j]!.total ? wrong[j]!.wrong / wrong[j]!.total : 0;
  });
  return { votes, gold, labelers, truth };
}

/** Spearman's rank correlation (average ranks for ties). */
export function spearman(x: readonly number[], y: readonly number[]): number {
  const rank = (v: readonly number[]) => {
    const idx = v.map((_, i) => i).sort((a, b) => v[a]! - v[b]!);
    const r = new Array<number>(v.length);
    for (let s = 0; s < idx.length; ) {
      let e = s;
      while (e + 1 < idx.length && v[idx[e + 1]!] === v[idx[s]!]) e++;
      for (let k = s; k <= e; k++) r[idx[k]!] = (s + e) / 2;
      s = e + 1;
    }
    return r;
  };
  const rx = rank(x);
  const ry = rank(y);
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const mx = mean(rx);
  const my = mean(ry);
  let num = 0,
    dx = 0,
    dy = 0;
  for (let i = 0; i < x.length; i++) {
    num += (rx[i]! - mx) * (ry[i]! - my);
    dx += (rx[i]! - mx) ** 2;
    dy += (ry[i]! - my) ** 2;
  }
  return num / Math.sqrt(dx * dy);
}
