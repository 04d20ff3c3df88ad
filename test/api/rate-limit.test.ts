import { describe, expect, it } from "vitest";
import { createRateLimiter } from "../../src/server/auth/rate-limit.ts";

describe("createRateLimiter", () => {
  it("allows up to maxFailures, then blocks until the window ends", () => {
    const limiter = createRateLimiter({ maxFailures: 3, windowMs: 1000 });
    for (let i = 0; i < 3; i++) {
      expect(limiter.retryAfterMs("k", 100)).toBe(0);
      limiter.recordFailure("k", 100);
    }
    expect(limiter.retryAfterMs("k", 600)).toBe(500);
    expect(limiter.retryAfterMs("other", 600)).toBe(0);
    expect(limiter.retryAfterMs("k", 1100)).toBe(0);
  });

  it("reset clears a key", () => {
    const limiter = createRateLimiter({ maxFailures: 1, windowMs: 1000 });
    limiter.recordFailure("k", 0);
    expect(limiter.retryAfterMs("k", 1)).toBeGreaterThan(0);
    limiter.reset("k");
    expect(limiter.retryAfterMs("k", 1)).toBe(0);
  });

  it("keeps at most maxKeys buckets, dropping the oldest", () => {
    const limiter = createRateLimiter({ maxFailures: 1, windowMs: 60_000, maxKeys: 100 });
    for (let i = 0; i < 1000; i++) limiter.recordFailure(`key${i}`, 0);
    expect(limiter.retryAfterMs("key999", 1)).toBeGreaterThan(0);
    expect(limiter.retryAfterMs("key0", 1)).toBe(0);
  });
});
