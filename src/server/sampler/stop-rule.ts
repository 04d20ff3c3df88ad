// Where a battle completion ends. A hard stop at exactly `maxNewTokens` cut the house model's
// text mid-word ("…the great s"), which a labeler cannot judge fairly. Instead, once a
// completion has its `maxNewTokens`, it ends at the first word or sentence boundary within a
// small overshoot; the model's own EOS still ends it wherever it comes. Pure, so the rule is
// tested without threads or models; the sampler thread applies it (thread.ts).

export type LengthUnit = "bytes" | "tokens";

/**
 * A vocabulary this small can only hold single bytes (or characters) plus a few specials: the
 * byte-level house model has 260 ids, BPE vocabularies tens of thousands. Deriving the unit from
 * the vocabulary, not the model's name, keeps it right for any model an admin imports.
 */
export function lengthUnitForVocab(vocabSize: number): LengthUnit {
  return vocabSize <= 512 ? "bytes" : "tokens";
}

/**
 * How far past `maxNewTokens` a completion may run to reach a boundary: about four English
 * words either way (a BPE token is ~4 bytes, and words here average 5–6 bytes with the space).
 */
export function overshootFor(unit: LengthUnit): number {
  return unit === "bytes" ? 24 : 8;
}

/** The text ends a sentence: . ! ? or … , possibly followed by closing quotes or brackets. */
const SENTENCE_END = /[.!?…]["'”’)\]]*$/;
const WHITESPACE = /\s/;

export interface StopPlan {
  /** tokens the sampler may produce at most (the boundary search included) */
  limit: number;
  /** a completion is not cut before this many tokens */
  target: number;
}

/**
 * The sampler's budget for a requested length: `overshoot` more tokens, within the context that
 * is left after the prompt (`room`). When the context is the tighter bound, the target moves
 * back so that the boundary search still fits instead of the context cutting a word.
 */
export function planStop(maxNewTokens: number, overshoot: number, room: number): StopPlan {
  const limit = Math.max(1, Math.min(maxNewTokens + overshoot, room));
  const target = Math.max(1, Math.min(maxNewTokens, limit - overshoot));
  return { limit, target };
}

export interface RowCut {
  /** tokens kept (the ones after it were sampled only to find the boundary) */
  keep: number;
  text: string;
}

/**
 * Watches each sequence's tokens as they are sampled and decides where it ends. `observe` is
 * called once per token with the decoded text so far; it answers what a viewer may see of the
 * sequence now (tokens past the target are held back until the cut is known, so text that will
 * be dropped is never shown).
 */
export class BoundaryStop {
  private readonly texts: string[][];
  private readonly cuts: (RowCut | null)[];
  private readonly ended: boolean[];

  constructor(
    n: number,
    private readonly plan: StopPlan,
    private readonly eos: number,
  ) {
    this.texts = Array.from({ length: n }, () => [""]);
    this.cuts = Array(n).fill(null);
    this.ended = Array(n).fill(false);
  }

  /**
   * Records token number `texts[index].length` of sequence `index`. Returns the token count and
   * text to show now, or null when nothing new may be shown (held back, or already cut).
   */
  observe(index: number, tokenId: number, textSoFar: string): { shown: number; text: string } | null {
    if (this.cuts[index] || this.ended[index]) return null;
    const texts = this.texts[index]!;
    const before = texts[texts.length - 1]!;
    texts.push(textSoFar);
    const count = texts.length - 1;
    if (tokenId === this.eos) {
      // The model ended it; whatever was held back is part of the completion.
      this.ended[index] = true;
      return { shown: count, text: textSoFar };
    }
    const { target } = this.plan;
    // The new token opens a word: the text before it ends one.
    const opensWord =
      count - 1 >= target && textSoFar.length > before.length && textSoFar.startsWith(before) && WHITESPACE.test(textSoFar[before.length]!);
    if (opensWord && before.length > 0 && !WHITESPACE.test(before[before.length - 1]!)) return this.cut(index, count - 1, before);
    if (count >= target && SENTENCE_END.test(textSoFar)) return this.cut(index, count, textSoFar);
    if (count <= target) return { shown: count, text: textSoFar };
    return null;
  }

  private cut(index: number, keep: number, text: string) {
    this.cuts[index] = { keep, text };
    return { shown: keep, text };
  }

  cutOf(index: number): RowCut | null {
    return this.cuts[index] ?? null;
  }

  /** Every sequence is cut or ended by EOS: sampling more would only be thrown away. */
  get settled(): boolean {
    return this.cuts.every((c, i) => c !== null || this.ended[i]);
  }
}
