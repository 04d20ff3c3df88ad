// Synthetic preference data with a known property, for tests and benchmarks: the chosen
// completion contains a marker word, the rejected one has an anagram of the marker in its
// place. Everything else (prompt, other words, length, even the letters) is identical within a
// pair, so an untrained model ranks pairs at chance and a policy can only rank them correctly
// by learning the marker's spelling.
import { encodePrompt, makeRng, type Tokenizer } from "../lm/index.ts";
import type { Pair } from "./pairs.ts";

const LETTERS = "abcdefghijklmnopqrstuvwxyz";

function anagram(rand: () => number, w: string): string {
  for (;;) {
    const letters = w.split("");
    for (let i = letters.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [letters[i], letters[j]] = [letters[j], letters[i]];
    }
    const out = letters.join("");
    if (out !== w) return out;
  }
}

function word(rand: () => number, len: number, avoid: string): string {
  for (;;) {
    let w = "";
    for (let i = 0; i < len; i++) w += LETTERS[Math.floor(rand() * LETTERS.length)];
    if (w !== avoid) return w;
  }
}

export interface MarkerPairOptions {
  n: number;
  seed: number;
  marker?: string;
  /** Words per completion (the marker replaces one of them). */
  words?: number;
}

export function markerPairs(tok: Tokenizer, opts: MarkerPairOptions): Pair[] {
  const marker = opts.marker ?? "good";
  const words = opts.words ?? 5;
  const rand = makeRng(opts.seed);
  const pairs: Pair[] = [];
  for (let i = 0; i < opts.n; i++) {
    const prompt = `q ${word(rand, 3, marker)}:`;
    const body = Array.from({ length: words }, () => word(rand, marker.length, marker));
    const at = Math.floor(rand() * words);
    const chosen = body.map((w, j) => (j === at ? marker : w)).join(" ");
    const rejected = body.map((w, j) => (j === at ? anagram(rand, marker) : w)).join(" ");
    pairs.push({ promptIds: encodePrompt(tok, prompt), chosenIds: tok.encode(` ${chosen}`), rejectedIds: tok.encode(` ${rejected}`) });
  }
  return pairs;
}
