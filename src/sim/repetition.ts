// Repetition, the symptom of a policy that hacks a word-counting reward ("best best best …").
// Words are the reward's words (tokenizeForReward), so the measures and the reward agree on
// what a word is.
import { tokenizeForReward } from "./reward.ts";

export interface RepetitionCounts {
  /** word 3-grams in the text */
  trigrams: number;
  /** 3-grams equal to an earlier 3-gram of the same text */
  repeatedTrigrams: number;
  words: number;
  distinctWords: number;
}

export function repetitionCounts(text: string): RepetitionCounts {
  const words = tokenizeForReward(text);
  const seen = new Set<string>();
  let repeated = 0;
  for (let i = 0; i + 3 <= words.length; i++) {
    const g = `${words[i]} ${words[i + 1]} ${words[i + 2]}`;
    if (seen.has(g)) repeated++;
    else seen.add(g);
  }
  return { trigrams: Math.max(0, words.length - 2), repeatedTrigrams: repeated, words: words.length, distinctWords: new Set(words).size };
}

/**
 * Share of repeated word 3-grams over many texts, pooled (Σ repeated / Σ 3-grams), so a short
 * completion weighs by how many 3-grams it has. 0 when no text has three words.
 */
export function repetitionRate(texts: readonly string[]): number {
  let total = 0;
  let repeated = 0;
  for (const t of texts) {
    const c = repetitionCounts(t);
    total += c.trigrams;
    repeated += c.repeatedTrigrams;
  }
  return total === 0 ? 0 : repeated / total;
}

/** Share of word tokens that repeat an earlier word of the same text, pooled over texts. */
export function repeatedWordShare(texts: readonly string[]): number {
  let words = 0;
  let repeats = 0;
  for (const t of texts) {
    const c = repetitionCounts(t);
    words += c.words;
    repeats += c.words - c.distinctWords;
  }
  return words === 0 ? 0 : repeats / words;
}

/** Texts shorter than this many words are never called degenerate: too little to judge. */
export const DEGENERATE_MIN_WORDS = 6;
/** Fewer distinct words than this share of all words is degenerate… */
export const DEGENERATE_MAX_DISTINCT_SHARE = 0.5;
/** …and so is this share of repeated 3-grams or more. */
export const DEGENERATE_MIN_TRIGRAM_REPEATS = 0.5;

/**
 * Heavy repetition, as a person reading it would see it: at least six words, and either fewer
 * than half of them distinct ("best best bes best cou best best best peace best best gr": 5 of
 * 12) or at least half of the 3-grams repeats ("of the people of the people of the people").
 * Ordinary 64-byte English repeats "the" or "of" once or twice and is far from both limits.
 */
export function isDegenerate(text: string): boolean {
  const c = repetitionCounts(text);
  if (c.words < DEGENERATE_MIN_WORDS) return false;
  if (c.distinctWords / c.words < DEGENERATE_MAX_DISTINCT_SHARE) return true;
  return c.trigrams > 0 && c.repeatedTrigrams / c.trigrams >= DEGENERATE_MIN_TRIGRAM_REPEATS;
}
