import { afterEach, describe, expect, it, vi } from "vitest";
import type { BattleEvent } from "./generate.ts";
import { battleEventWriter } from "./sse.ts";

type Sent = { event: string; data: { slot?: "A" | "B"; from?: number; append?: string; text?: string; message?: string } };

function harness(flushMs = 50) {
  const sent: Sent[] = [];
  let closed = 0;
  const w = battleEventWriter(
    (event, data) => sent.push({ event, data: data as Sent["data"] }),
    () => closed++,
    flushMs,
  );
  /** what a client that applies every event holds */
  const client = () => {
    const t = { A: "", B: "" };
    for (const s of sent) {
      if (s.event === "text") t[s.data.slot!] = t[s.data.slot!].slice(0, s.data.from) + s.data.append;
      if (s.event === "done") t[s.data.slot!] = s.data.text!;
    }
    return t;
  };
  return { sent, w, client, closed: () => closed };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("battleEventWriter", () => {
  it("merges text changes into one write per slot per flush, and the client rebuilds the exact text", () => {
    vi.useFakeTimers();
    const h = harness();
    const events: BattleEvent[] = [];
    let a = "";
    for (const ch of "Hello, world") {
      events.push({ type: "text", slot: "A", from: a.length, append: ch });
      a += ch;
    }
    for (const e of events) h.w.onEvent(e);
    h.w.onEvent({ type: "text", slot: "B", from: 0, append: "Hi" });
    expect(h.sent).toHaveLength(0); // nothing before the flush
    vi.advanceTimersByTime(50);
    expect(h.sent.map((s) => s.event)).toEqual(["text", "text"]);
    expect(h.client()).toEqual({ A: "Hello, world", B: "Hi" });
    // a later change that rewrites the tail (a UTF-8 character completed by its next byte)
    h.w.onEvent({ type: "text", slot: "A", from: 11, append: "\uFFFD" });
    h.w.onEvent({ type: "text", slot: "A", from: 11, append: "dé" });
    vi.advanceTimersByTime(50);
    expect(h.sent.at(-1)!.data).toEqual({ slot: "A", from: 11, append: "dé" });
    expect(h.client().A).toBe(`${"Hello, world".slice(0, 11)}dé`);
  });

  it("sends done at once, drops the slot's pending text, flushes the other slot before ready, then closes", () => {
    vi.useFakeTimers();
    const h = harness();
    h.w.onEvent({ type: "text", slot: "A", from: 0, append: "abc" });
    h.w.onEvent({ type: "text", slot: "B", from: 0, append: "xy" });
    h.w.onEvent({ type: "done", slot: "A", text: "abcd", finishReason: "eos" });
    expect(h.sent).toEqual([{ event: "done", data: { slot: "A", text: "abcd" } }]);
    h.w.onEvent({ type: "ready" });
    expect(h.sent.map((s) => s.event)).toEqual(["done", "text", "ready"]);
    expect(h.client()).toEqual({ A: "abcd", B: "xy" });
    expect(h.closed()).toBe(1);
    // nothing after the end, even a late timer
    h.w.onEvent({ type: "text", slot: "B", from: 2, append: "z" });
    vi.advanceTimersByTime(200);
    expect(h.sent.map((s) => s.event)).toEqual(["done", "text", "ready"]);
  });

  it("reports a failure with its message and closes", () => {
    const h = harness();
    h.w.onEvent({ type: "error", message: "No model can sample right now." });
    expect(h.sent).toEqual([{ event: "failure", data: { message: "No model can sample right now." } }]);
    expect(h.closed()).toBe(1);
  });

  it("writes far fewer events than it receives while a long completion streams", () => {
    vi.useFakeTimers();
    const h = harness(50);
    let text = "";
    for (let i = 0; i < 200; i++) {
      // a token every 5 ms on each slot
      for (const slot of ["A", "B"] as const) h.w.onEvent({ type: "text", slot, from: text.length, append: "x" });
      text += "x";
      vi.advanceTimersByTime(5);
    }
    h.w.onEvent({ type: "ready" });
    const textEvents = h.sent.filter((s) => s.event === "text").length;
    expect(textEvents).toBeLessThanOrEqual(2 * (200 / 10) + 2);
    expect(h.client()).toEqual({ A: text, B: text });
  });
});
