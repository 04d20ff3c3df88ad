import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type PacedSide, Pacer } from "./pacer.ts";

function recorder() {
  const shown: Record<PacedSide, string> = { local: "", remote: "" };
  const done: { side: PacedSide; at: number; text: string }[] = [];
  const pacer = new Pacer(
    {
      text(side, from, append) {
        shown[side] = shown[side].slice(0, from) + append;
      },
      done(side, text) {
        done.push({ side, at: Date.now(), text });
      },
    },
    () => Date.now(),
  );
  return { pacer, shown, done };
}

describe("both sides of a contestant battle are released on one schedule", () => {
  beforeEach(() => vi.useFakeTimers({ now: 0 }));
  afterEach(() => vi.useRealTimers());

  it("a fast contestant waits for the local model, then finishes at the local pace", async () => {
    const { pacer, shown, done } = recorder();
    // the contestant's whole answer arrives at once (a fast GPU server)
    pacer.set("remote", "r".repeat(200));
    pacer.finish("remote", "r".repeat(200), "eos");
    expect(shown.remote).toBe("");
    // the local model writes 10 characters every 100 ms
    for (let i = 1; i <= 10; i++) {
      vi.advanceTimersByTime(100);
      pacer.update("local", (i - 1) * 10, "l".repeat(10));
      expect(shown.remote.length).toBe(shown.local.length);
    }
    pacer.finish("local", "l".repeat(100), "boundary");
    expect(done.map((d) => d.side)).toEqual(["local"]);
    expect(shown.remote.length).toBe(100);
    // the remaining 100 characters follow at the local pace (0.1 char/ms here): ~1 s, not at once
    vi.advanceTimersByTime(500);
    expect(shown.remote.length).toBeGreaterThan(130);
    expect(shown.remote.length).toBeLessThan(170);
    vi.advanceTimersByTime(600);
    expect(done.map((d) => d.side)).toEqual(["local", "remote"]);
    expect(done[1]!.text).toBe("r".repeat(200));
    await pacer.finished;
  });

  it("a slow contestant holds the local side back, so neither side is ahead", () => {
    const { pacer, shown, done } = recorder();
    pacer.update("local", 0, "l".repeat(50));
    expect(shown.local).toBe("");
    pacer.set("remote", "abc");
    expect(shown.local).toBe("lll");
    expect(shown.remote).toBe("abc");
    pacer.finish("local", "l".repeat(50), "eos");
    // the local side is complete but not yet released: it is not "done" for the labeler either
    expect(done).toEqual([]);
    pacer.set("remote", "abcdefghij");
    vi.advanceTimersByTime(50);
    expect(shown.local.length).toBeLessThanOrEqual(10);
    pacer.finish("remote", "abcdefghij", "eos");
    vi.advanceTimersByTime(5_000);
    expect(shown.local).toBe("l".repeat(50));
    expect(done.map((d) => d.side).sort()).toEqual(["local", "remote"]);
  });

  it("a restarted side starts from empty text", () => {
    const { pacer, shown } = recorder();
    pacer.update("local", 0, "hello world");
    pacer.set("remote", "partial answ");
    expect(shown.remote).toBe("partial ans");
    pacer.restart("remote");
    expect(shown.remote).toBe("");
    pacer.update("remote", 0, "fresh");
    expect(shown.remote).toBe("fresh");
    pacer.stop();
  });
});
