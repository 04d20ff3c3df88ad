// Issue 16 item 3: completion streams are capped per user and per process.
import { describe, expect, it } from "vitest";
import { StreamSlots } from "../../src/server/services/battles/stream-slots.ts";

describe("StreamSlots", () => {
  it("refuses a user's stream beyond their cap with 429, others still get theirs, until one closes", () => {
    const slots = new StreamSlots(2, 100);
    const a1 = slots.acquire("a");
    const a2 = slots.acquire("a");
    const a3 = slots.acquire("a");
    expect([a1.ok, a2.ok, a3.ok]).toEqual([true, true, false]);
    expect(a3).toMatchObject({ status: 429, message: expect.stringMatching(/streams open/) });
    expect(slots.acquire("b").ok).toBe(true);
    if (a1.ok) {
      a1.release();
      a1.release(); // closing twice (cancel after close) gives back one slot only
    }
    expect(slots.openStreams("a")).toBe(1);
    expect(slots.acquire("a").ok).toBe(true);
    expect(slots.acquire("a").ok).toBe(false);
  });

  it("refuses any stream beyond the process total with 503", () => {
    const slots = new StreamSlots(10, 3);
    for (const u of ["a", "b", "c"]) expect(slots.acquire(u).ok).toBe(true);
    expect(slots.acquire("d")).toMatchObject({ ok: false, status: 503 });
    expect(slots.openStreams()).toBe(3);
  });
});
