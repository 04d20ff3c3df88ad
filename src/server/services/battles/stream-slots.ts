// Caps on open completion streams (SSE), per user and per process. Each stream holds a socket,
// a timer and a job subscription; one client opening a thousand of them must not take the
// process's memory and file descriptors from everyone else. A labeler needs two (the current
// battle and the prefetched one), a few more for extra tabs.

export const MAX_STREAMS_PER_USER = 6;
export const MAX_STREAMS_TOTAL = 1000;

export type SlotRefusal = { ok: false; status: 429 | 503; message: string };

export class StreamSlots {
  private perUser = new Map<string, number>();
  private total = 0;

  constructor(
    private readonly maxPerUser = MAX_STREAMS_PER_USER,
    private readonly maxTotal = MAX_STREAMS_TOTAL,
  ) {}

  /** A slot for one stream, with the function that gives it back (idempotent), or why not. */
  acquire(userId: string): { ok: true; release: () => void } | SlotRefusal {
    const mine = this.perUser.get(userId) ?? 0;
    if (mine >= this.maxPerUser) {
      return { ok: false, status: 429, message: `You have ${mine} battle streams open; close other arena tabs and reload.` };
    }
    if (this.total >= this.maxTotal) {
      return { ok: false, status: 503, message: "The server has too many open battle streams right now; retry in a few seconds." };
    }
    this.perUser.set(userId, mine + 1);
    this.total += 1;
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.total -= 1;
        const n = (this.perUser.get(userId) ?? 1) - 1;
        if (n <= 0) this.perUser.delete(userId);
        else this.perUser.set(userId, n);
      },
    };
  }

  openStreams(userId?: string): number {
    return userId === undefined ? this.total : (this.perUser.get(userId) ?? 0);
  }
}

const globalSlots = globalThis as unknown as { __dpoArenaStreamSlots?: StreamSlots };
/** The process's stream slots (kept on globalThis across Next.js hot reloads). */
export const streamSlots: StreamSlots = (globalSlots.__dpoArenaStreamSlots ??= new StreamSlots());
