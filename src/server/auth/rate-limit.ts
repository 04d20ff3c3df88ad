// Failed sign-ins are counted per key (a username, a client address) in a fixed window. This
// is per process: with several web replicas an attacker gets N× the budget, which argon2's
// cost still keeps slow; a shared limiter belongs in Postgres if that ever matters.

export interface RateLimiter {
  /** Milliseconds until another attempt is allowed for this key, or 0 if allowed now. */
  retryAfterMs(key: string, now?: number): number;
  recordFailure(key: string, now?: number): void;
  reset(key: string): void;
}

export function createRateLimiter(options: { maxFailures: number; windowMs: number; maxKeys?: number }): RateLimiter {
  const { maxFailures, windowMs } = options;
  const maxKeys = options.maxKeys ?? 10_000;
  const buckets = new Map<string, { count: number; windowStart: number }>();

  const live = (key: string, now: number) => {
    const bucket = buckets.get(key);
    if (bucket && now - bucket.windowStart >= windowMs) {
      buckets.delete(key);
      return undefined;
    }
    return bucket;
  };

  return {
    retryAfterMs(key, now = Date.now()) {
      const bucket = live(key, now);
      return bucket && bucket.count >= maxFailures ? bucket.windowStart + windowMs - now : 0;
    },
    recordFailure(key, now = Date.now()) {
      if (buckets.size >= maxKeys) {
        for (const [k, bucket] of buckets) if (now - bucket.windowStart >= windowMs) buckets.delete(k);
        // Still full of live entries: drop the oldest rather than grow without bound.
        while (buckets.size >= maxKeys) buckets.delete(buckets.keys().next().value!);
      }
      const bucket = live(key, now);
      if (bucket) bucket.count += 1;
      else buckets.set(key, { count: 1, windowStart: now });
    },
    reset(key) {
      buckets.delete(key);
    },
  };
}

export interface LoginLimits {
  byUsername: RateLimiter;
  byAddress: RateLimiter;
}

export function createLoginLimits(): LoginLimits {
  const windowMs = 15 * 60_000;
  return {
    byUsername: createRateLimiter({ maxFailures: 10, windowMs }),
    // An office behind one NAT shares an address, so this budget is larger.
    byAddress: createRateLimiter({ maxFailures: 100, windowMs }),
  };
}

/** The process-wide limits used by sign-in. */
export const loginLimits: LoginLimits = createLoginLimits();
