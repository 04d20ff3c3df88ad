// Event-loop delay of this process, for the health endpoint and benchmarks: sampling runs in
// worker threads precisely so that this stays small while completions stream. A 20 ms timer
// records how late it fires (node's monitorEventLoopDelay under-reports single long blocks).

const INTERVAL_MS = 20;
const WINDOW = 6000; // samples kept: two minutes at 20 ms

interface Monitor {
  samples: Float64Array;
  n: number;
  max: number;
}

const g = globalThis as unknown as { __dpoArenaLoopDelay?: Monitor };

function monitor(): Monitor {
  if (!g.__dpoArenaLoopDelay) {
    const m: Monitor = { samples: new Float64Array(WINDOW), n: 0, max: 0 };
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      const lag = Math.max(0, now - last - INTERVAL_MS);
      last = now;
      m.samples[m.n % WINDOW] = lag;
      m.n++;
      if (lag > m.max) m.max = lag;
    }, INTERVAL_MS);
    timer.unref();
    g.__dpoArenaLoopDelay = m;
  }
  return g.__dpoArenaLoopDelay;
}

export interface LoopDelay {
  /** milliseconds late, over the timer's samples since the window started (at most two minutes) */
  p50: number;
  p99: number;
  max: number;
  samples: number;
}

/** Starts the monitor on first call; `reset` starts a new measurement window. */
export function eventLoopDelay(reset = false): LoopDelay {
  const m = monitor();
  const count = Math.min(m.n, WINDOW);
  const sorted = Array.from(m.samples.subarray(0, count)).sort((a, b) => a - b);
  const q = (p: number) => (count ? Math.round(sorted[Math.min(count - 1, Math.floor(p * count))]! * 10) / 10 : 0);
  const out = { p50: q(0.5), p99: q(0.99), max: Math.round(m.max * 10) / 10, samples: count };
  if (reset) {
    m.n = 0;
    m.max = 0;
  }
  return out;
}
