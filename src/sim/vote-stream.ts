// The arena's vote stream without the web (issue 15's measurements): labelers ask for battles in
// turn and vote with the sim's decision rule (`judge`), and the assignment follows the arena's
// rules as written in src/server/services/battles (assign.ts, gold.ts, overlap-preference.ts):
//
// - with probability `goldRate` a labeler gets a gold pair they have not seen, its left/right
//   order drawn per battle (their vote is recorded in the gold pair's own order, as inputs.ts
//   normalises it);
// - otherwise a pool prompt; a share `agreementShare` of prompts wants two labelers. A labeler
//   whose checked votes (gold or overlapping) are at most the median fills an open second slot
//   first (the oldest), copying the first battle's pair in the same order; the others take a
//   fresh prompt. The counts are re-read once per turn of all labelers (the product caches
//   them for a minute, about one turn of the sim's 8 labelers);
// - a fresh prompt's battle is a pair drawn from `bank` (real samples of the served model) with
//   its left/right order drawn at random; an item is one battle's pair, so each draw is a new
//   item even when the bank repeats a pair.
//
// Every labeler votes once per turn in a shuffled order, so after turn k everyone has k votes.
import { readFileSync } from "node:fs";
import { createRng, type Judgement, judge, type LabelerProfile, type Rng } from "./labeler.ts";
import { isDegenerate } from "./repetition.ts";
import { trueReward } from "./reward.ts";

export interface BankPair {
  prompt: string;
  a: string;
  b: string;
}

/** What a careful, noiseless labeler says of (left, right): the sim's `judge` at temperature → 0. */
export type Truth = "A" | "B" | "TIE" | "BOTH_BAD";

export function truthOf(left: string, right: string, tieThreshold: number): Truth {
  const badL = isDegenerate(left);
  const badR = isDegenerate(right);
  if (badL && badR) return "BOTH_BAD";
  if (badL !== badR) return badL ? "B" : "A";
  const d = trueReward(left) - trueReward(right);
  return Math.abs(d) < tieThreshold ? "TIE" : d > 0 ? "A" : "B";
}

export interface StreamVote {
  /** index into the labeler list */
  labeler: number;
  /** "gold:<g>" or "pool:<n>" (n counts pool items in creation order) */
  item: string;
  /** in the item's order (a gold pair's own order; a pool item's left/right) */
  answer: Judgement;
  truth: Truth;
  gold: boolean;
  /** the bank pair behind the item, and whether the item's A is the bank's `a` */
  bankIndex: number;
  aIsBankA: boolean;
  /** the turn (1-based): after turn k every labeler has k votes */
  turn: number;
}

export interface StreamOptions {
  bank: readonly BankPair[];
  labelers: readonly LabelerProfile[];
  votesPerLabeler: number;
  /** the arena's goldRate (default 0.05) */
  goldRate?: number;
  /** bank indices the admin made gold pairs of, answer = truth (default: none) */
  goldPairs?: readonly number[];
  /** the arena's agreementShare (default 0.2) */
  agreementShare?: number;
  /** the arena's overlapPreferUncertain (default true) */
  preferUncertain?: boolean;
  /** which bank pairs fresh prompts draw from (default: all) */
  poolIndices?: readonly number[];
  tieThreshold?: number;
  seed?: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return 0;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const flip = (a: Judgement): Judgement => (a === "A" ? "B" : a === "B" ? "A" : a);
const flipTruth = (t: Truth): Truth => (t === "A" ? "B" : t === "B" ? "A" : t);

interface PoolItem {
  id: string;
  bankIndex: number;
  aIsBankA: boolean;
  target: number;
  voters: number[];
}

export function voteStream(o: StreamOptions): StreamVote[] {
  const rng: Rng = createRng(o.seed ?? 1);
  const labelerRngs = o.labelers.map((_, j) => createRng((o.seed ?? 1) * 1009 + j + 1));
  const goldRate = o.goldRate ?? 0.05;
  const share = o.agreementShare ?? 0.2;
  const preferUncertain = o.preferUncertain ?? true;
  const tie = o.tieThreshold ?? 0.5;
  const pool = o.poolIndices ?? o.bank.map((_, i) => i);
  if (pool.length === 0) throw new Error("voteStream: no bank pairs to draw battles from");
  const gold = o.goldPairs ?? [];
  const L = o.labelers.length;
  const seenGold = o.labelers.map(() => new Set<number>());
  const checked = new Array<number>(L).fill(0);
  const openSlots: PoolItem[] = [];
  const votes: StreamVote[] = [];
  const truthCache = new Map<number, Truth>();
  const bankTruth = (i: number) => {
    let t = truthCache.get(i);
    if (t === undefined) {
      t = truthOf(o.bank[i]!.a, o.bank[i]!.b, tie);
      truthCache.set(i, t);
    }
    return t;
  };
  let poolCount = 0;
  const order = Array.from({ length: L }, (_, j) => j);

  for (let turn = 1; turn <= o.votesPerLabeler; turn++) {
    const snapshot = [...checked];
    const bar = median(snapshot);
    for (let j = L - 1; j > 0; j--) {
      const k = Math.floor(rng.next() * (j + 1));
      [order[j], order[k]] = [order[k]!, order[j]!];
    }
    for (const l of order) {
      const profile = o.labelers[l]!;
      const lrng = labelerRngs[l]!;
      // A gold pair (claimGoldBattle draws only when gold pairs exist).
      if (gold.length > 0 && rng.next() < goldRate) {
        const unseen = gold.filter((g) => !seenGold[l]!.has(g));
        if (unseen.length > 0) {
          const g = unseen[Math.floor(rng.next() * unseen.length)]!;
          seenGold[l]!.add(g);
          const swapped = rng.next() < 0.5;
          const p = o.bank[g]!;
          const shown = judge(swapped ? p.b : p.a, swapped ? p.a : p.b, profile, lrng).choice;
          votes.push({
            labeler: l,
            item: `gold:${g}`,
            answer: swapped ? flip(shown) : shown,
            truth: bankTruth(g),
            gold: true,
            bankIndex: g,
            aIsBankA: true,
            turn,
          });
          checked[l]!++;
          continue;
        }
      }
      const overlapFirst = !preferUncertain || snapshot[l]! <= bar;
      const slot = overlapFirst ? openSlots.findIndex((s) => !s.voters.includes(l)) : -1;
      let item: PoolItem;
      if (slot >= 0) {
        item = openSlots[slot]!;
        openSlots.splice(slot, 1);
      } else {
        item = {
          id: `pool:${poolCount++}`,
          bankIndex: pool[Math.floor(rng.next() * pool.length)]!,
          aIsBankA: rng.next() < 0.5,
          target: rng.next() < share ? 2 : 1,
          voters: [],
        };
        if (item.target > 1) openSlots.push(item);
      }
      item.voters.push(l);
      const p = o.bank[item.bankIndex]!;
      const [left, right] = item.aIsBankA ? [p.a, p.b] : [p.b, p.a];
      const t = bankTruth(item.bankIndex);
      votes.push({
        labeler: l,
        item: item.id,
        answer: judge(left, right, profile, lrng).choice,
        truth: item.aIsBankA ? t : flipTruth(t),
        gold: false,
        bankIndex: item.bankIndex,
        aIsBankA: item.aIsBankA,
        turn,
      });
      // Both votes of a prompt with a second labeler are checked from then on.
      if (item.voters.length === 2) {
        checked[item.voters[0]!]!++;
        checked[l]!++;
      }
    }
  }
  return votes;
}

/** Of the decisive pairs with different lengths, the share where the longer text is the better one. */
export function longerAgreement(bank: readonly BankPair[], tieThreshold: number): number | null {
  let agree = 0,
    n = 0;
  for (const p of bank) {
    const t = truthOf(p.a, p.b, tieThreshold);
    if ((t !== "A" && t !== "B") || p.a.length === p.b.length) continue;
    n++;
    if (p.a.length > p.b.length === (t === "A")) agree++;
  }
  return n ? agree / n : null;
}

export function readBank(file: string): BankPair[] {
  let raw: string;
  try {
    raw = readFileSync(file, "utf8");
  } catch {
    throw new Error(`no battle bank at ${file}: sample one first (scripts/sim-quality.ts --experiment bank)`);
  }
  return (JSON.parse(raw) as { bank: BankPair[] }).bank;
}

/**
 * The gold pairs an admin would make: pairs with a clear answer (neither text degenerate, the
 * true rewards at least 1 apart), `count` of them drawn at random.
 */
export function pickGold(bank: readonly BankPair[], count: number, tieThreshold: number, seed: number): number[] {
  const rng = createRng(seed * 7919 + 17);
  const clear = bank
    .map((p, i) => ({ i, t: truthOf(p.a, p.b, tieThreshold), d: Math.abs(trueReward(p.a) - trueReward(p.b)) }))
    .filter((x) => (x.t === "A" || x.t === "B") && x.d >= 1 && !isDegenerate(bank[x.i]!.a) && !isDegenerate(bank[x.i]!.b))
    .map((x) => x.i);
  for (let i = clear.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [clear[i], clear[j]] = [clear[j]!, clear[i]!];
  }
  return clear.slice(0, count);
}
