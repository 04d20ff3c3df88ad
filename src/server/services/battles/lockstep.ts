// The two sides of a battle must look alike until the vote (issue 16 item 6): which side is the
// serving model must not show in when its text starts, how fast it grows, or whether the pair
// was sampled just now or copied from another labeler's battle (an overlap copy, which the
// agreement statistics check).
//
// - `lockstep` reveals both slots together: a slot shows at most as many characters as the
//   other slot has, until the other is done. A side that starts late (an earlier version being
//   loaded) or samples slowly holds both back; each slot's `done` comes when all of its text is
//   shown, and both `done`s of one moment go out in slot order, then `ready`.
// - `replayStored` plays completions that already exist at the pace they were sampled (their
//   recorded first-token time and latency), instead of all at once.
import type { BattleEvent, SlotName } from "./generate.ts";

const SLOTS = ["A", "B"] as const;

export function lockstep(onEvent: (e: BattleEvent) => void): (e: BattleEvent) => void {
  const full: Record<SlotName, string> = { A: "", B: "" };
  const shown: Record<SlotName, string> = { A: "", B: "" };
  const done: Partial<Record<SlotName, { text: string; finishReason: string }>> = {};
  const doneSent: Record<SlotName, boolean> = { A: false, B: false };
  let readyPending = false;
  let ended = false;

  const other = (s: SlotName): SlotName => (s === "A" ? "B" : "A");
  const release = () => {
    for (const s of SLOTS) {
      const target = done[other(s)] ? full[s].length : Math.min(full[s].length, full[other(s)].length);
      const next = full[s].slice(0, target);
      if (next === shown[s]) continue;
      let from = 0;
      const max = Math.min(next.length, shown[s].length);
      while (from < max && next.charCodeAt(from) === shown[s].charCodeAt(from)) from++;
      shown[s] = next;
      onEvent({ type: "text", slot: s, from, append: next.slice(from) });
    }
    for (const s of SLOTS) {
      const d = done[s];
      if (d && !doneSent[s] && shown[s] === d.text) {
        doneSent[s] = true;
        onEvent({ type: "done", slot: s, text: d.text, finishReason: d.finishReason });
      }
    }
    if (readyPending && doneSent.A && doneSent.B) {
      readyPending = false;
      ended = true;
      onEvent({ type: "ready" });
    }
  };

  return (e) => {
    if (ended) return;
    switch (e.type) {
      case "text":
        full[e.slot] = full[e.slot].slice(0, e.from) + e.append;
        break;
      case "done":
        // A second `done` with other text: another process stored this battle first, and its
        // text is the one voted on; the browser takes a slot's text from its last `done`.
        if (doneSent[e.slot] && done[e.slot]?.text !== e.text) doneSent[e.slot] = false;
        full[e.slot] = e.text;
        done[e.slot] = { text: e.text, finishReason: e.finishReason };
        break;
      case "ready":
        readyPending = true;
        // `ready` means both completions are stored: whatever is still held back goes out now.
        for (const s of SLOTS) if (!done[s]) done[s] = { text: full[s], finishReason: "stop" };
        break;
      case "error":
        ended = true;
        onEvent(e);
        return;
    }
    release();
  };
}

export interface StoredCompletion {
  slot: SlotName;
  text: string;
  finishReason: string;
  firstTokenMs: number | null;
  latencyMs: number;
}

/** Longest replay: a completion that took longer to sample is replayed faster. */
export const MAX_REPLAY_MS = 30_000;
const TICK_MS = 40;

/**
 * Emits stored completions as they were sampled: each slot's text grows linearly from its
 * first-token time to its latency, then `done` for each and `ready`. Returns a stop function.
 */
export function replayStored(rows: StoredCompletion[], onEvent: (e: BattleEvent) => void, speedup = 1): () => void {
  const longest = Math.max(1, ...rows.map((r) => r.latencyMs));
  const scale = Math.min(1, MAX_REPLAY_MS / longest) / speedup;
  const started = performance.now();
  const sentLength: Record<SlotName, number> = { A: 0, B: 0 };
  const finished = new Set<SlotName>();
  let timer: ReturnType<typeof setInterval> | undefined;
  const tick = () => {
    const elapsed = performance.now() - started;
    for (const r of rows) {
      if (finished.has(r.slot)) continue;
      const first = Math.min(r.firstTokenMs ?? 0, r.latencyMs) * scale;
      const end = Math.max(first, r.latencyMs * scale);
      const share = elapsed >= end ? 1 : elapsed <= first ? 0 : (elapsed - first) / Math.max(1, end - first);
      let upTo = Math.floor(r.text.length * share);
      // never split a surrogate pair
      if (upTo > 0 && upTo < r.text.length && /[\uD800-\uDBFF]/.test(r.text[upTo - 1]!)) upTo--;
      if (upTo > sentLength[r.slot]) {
        onEvent({ type: "text", slot: r.slot, from: sentLength[r.slot], append: r.text.slice(sentLength[r.slot], upTo) });
        sentLength[r.slot] = upTo;
      }
      if (share >= 1) {
        finished.add(r.slot);
        onEvent({ type: "done", slot: r.slot, text: r.text, finishReason: r.finishReason });
      }
    }
    if (finished.size === rows.length) {
      if (timer) clearInterval(timer);
      timer = undefined;
      onEvent({ type: "ready" });
    }
  };
  timer = setInterval(tick, TICK_MS);
  timer.unref?.();
  return () => {
    if (timer) clearInterval(timer);
    timer = undefined;
  };
}
