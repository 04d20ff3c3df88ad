// Turns the sampler's text updates into append-only deltas, as OpenAI streams require. The
// sampler may rewrite the tail of a text (a byte-level model ends mid UTF-8 character, shown as
// U+FFFD until the next byte) and cuts the text before a stop string once it is complete, so
// a delta never includes a trailing U+FFFD or a tail that could still become a stop string.
import type { TokenEvent } from "../../sampler/index.ts";

export class DeltaTracker {
  private texts = new Map<number, string>();
  private emitted = new Map<number, string>();

  constructor(private readonly stops: string[]) {}

  /** The new text of the event's sequence that is safe to send, or "" */
  update(e: TokenEvent): string {
    const before = this.texts.get(e.index) ?? "";
    const text = before.slice(0, e.from) + e.append;
    this.texts.set(e.index, text);
    return this.advance(e.index, text.length - this.heldBack(text));
  }

  /** What is left to send once the final text is known (normally the held-back tail). */
  finish(index: number, finalText: string): string {
    this.texts.set(index, finalText);
    return this.advance(index, finalText.length);
  }

  private advance(index: number, safeLength: number): string {
    const text = this.texts.get(index) ?? "";
    const sent = this.emitted.get(index) ?? "";
    // A rewrite reaching into what was sent cannot be undone in an append-only stream; the
    // hold-back rules make it impossible for the sampler's rewrites, so just never resend.
    if (safeLength <= sent.length || !text.startsWith(sent)) return "";
    this.emitted.set(index, text.slice(0, safeLength));
    return text.slice(sent.length, safeLength);
  }

  private heldBack(text: string): number {
    let hold = 0;
    while (hold < text.length && text[text.length - 1 - hold] === "\uFFFD") hold++;
    const rest = text.slice(0, text.length - hold);
    let partial = 0;
    for (const stop of this.stops) {
      for (let k = Math.min(stop.length - 1, rest.length); k > partial; k--) {
        if (rest.endsWith(stop.slice(0, k))) {
          partial = k;
          break;
        }
      }
    }
    return hold + partial;
  }
}
