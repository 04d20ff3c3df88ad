// Turns a battle's events (see generate.ts) into the server-sent events a labeler's page reads.
// Text changes are merged per slot and written at most every `flushMs`: smooth to read, and a
// few socket writes per second per stream instead of one per token. `done`, `ready` and
// `failure` go out at once (pending text first).
import type { BattleEvent, SlotName } from "./generate.ts";

export type SseSend = (event: "text" | "done" | "ready" | "failure", data: unknown) => void;

export interface BattleEventWriter {
  onEvent: (e: BattleEvent) => void;
  /** stops the flush timer; nothing is sent afterwards */
  dispose: () => void;
}

/**
 * `text` data is {slot, from, append}: the slot's text is now its first `from` characters
 * followed by `append`. `close` is called after `ready` or `failure`.
 */
export function battleEventWriter(send: SseSend, close: () => void, flushMs = 50): BattleEventWriter {
  // Per slot: the text so far, how much of it the client has, and the earliest change since.
  const text: Record<SlotName, string> = { A: "", B: "" };
  const sentLength: Record<SlotName, number> = { A: 0, B: 0 };
  const changedFrom: Record<SlotName, number> = { A: Infinity, B: Infinity };
  let timer: ReturnType<typeof setTimeout> | null = null;
  let disposed = false;

  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    for (const slot of ["A", "B"] as const) {
      if (changedFrom[slot] === Infinity) continue;
      const from = Math.min(changedFrom[slot], sentLength[slot]);
      send("text", { slot, from, append: text[slot].slice(from) });
      sentLength[slot] = text[slot].length;
      changedFrom[slot] = Infinity;
    }
  };
  const dispose = () => {
    disposed = true;
    if (timer) clearTimeout(timer);
    timer = null;
  };

  const onEvent = (e: BattleEvent) => {
    if (disposed) return;
    switch (e.type) {
      case "text":
        text[e.slot] = text[e.slot].slice(0, e.from) + e.append;
        changedFrom[e.slot] = Math.min(changedFrom[e.slot], e.from);
        timer ??= setTimeout(flush, flushMs);
        return;
      case "done":
        // the final text replaces whatever of this slot is still pending
        text[e.slot] = e.text;
        sentLength[e.slot] = e.text.length;
        changedFrom[e.slot] = Infinity;
        send("done", { slot: e.slot, text: e.text });
        return;
      case "ready":
      case "error":
        flush();
        if (e.type === "error") send("failure", { message: e.message });
        else send("ready", {});
        dispose();
        close();
    }
  };
  return { onEvent, dispose };
}
