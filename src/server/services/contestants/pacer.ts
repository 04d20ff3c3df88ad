// Releases the two sides of a contestant battle on one schedule, so neither speed nor rhythm
// says which side is the local model. The local sampler is the clock: while it runs, each side
// may show as many characters as the local side has produced, and no more than the slower side
// has (a fast GPU server waits for the local model; a slow endpoint holds the local side back).
// Once the local side has produced everything, the clock runs on at the local side's own pace
// (characters per millisecond so far, at least MIN_RATE) until the longer answer is out. A side
// is "done" only when its whole text has been released, so the end gives nothing away either.
export type PacedSide = "local" | "remote";

/** 100 characters a second: a floor for answers too short to measure a pace from. */
const MIN_RATE_PER_MS = 0.1;
const TICK_MS = 50;

interface SideState {
  avail: string;
  shown: string;
  sourceDone: boolean;
  finishReason: string;
  doneEmitted: boolean;
}

export interface PacerOutput {
  text(side: PacedSide, from: number, append: string): void;
  done(side: PacedSide, text: string, finishReason: string): void;
}

export class Pacer {
  private readonly sides: Record<PacedSide, SideState> = { local: this.fresh(), remote: this.fresh() };
  /** characters each side may show now */
  private budget = 0;
  private rate = MIN_RATE_PER_MS;
  private readonly started: number;
  private timer: ReturnType<typeof setInterval> | null = null;
  private lastTick = 0;
  private resolveFinished!: () => void;
  readonly finished: Promise<void>;

  constructor(
    private readonly out: PacerOutput,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.started = now();
    this.finished = new Promise((r) => (this.resolveFinished = r));
  }

  private fresh(): SideState {
    return { avail: "", shown: "", sourceDone: false, finishReason: "", doneEmitted: false };
  }

  /** The side's text so far is its first `from` characters followed by `append`. */
  update(side: PacedSide, from: number, append: string): void {
    const s = this.sides[side];
    s.avail = s.avail.slice(0, from) + append;
    this.pump();
  }

  set(side: PacedSide, text: string): void {
    this.sides[side].avail = text;
    this.pump();
  }

  /** The side's producer finished: `text` is all of it. */
  finish(side: PacedSide, text: string, finishReason: string): void {
    const s = this.sides[side];
    s.avail = text;
    s.finishReason = finishReason;
    s.sourceDone = true;
    if (side === "local") {
      const elapsed = Math.max(1, this.now() - this.started);
      this.rate = Math.max(MIN_RATE_PER_MS, text.length / elapsed);
      this.lastTick = this.now();
      this.timer = setInterval(() => this.pump(), TICK_MS);
      this.timer.unref?.();
    }
    this.pump();
  }

  /** Starts a side over (the contestant failed and a local sample takes its place). */
  restart(side: PacedSide): void {
    const s = this.sides[side];
    if (s.doneEmitted) throw new Error("a released side cannot be restarted");
    if (s.shown) this.out.text(side, 0, "");
    this.sides[side] = this.fresh();
    this.pump();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private pump(): void {
    const { local, remote } = this.sides;
    // No side may run ahead of a producer that is still at work.
    const cap = Math.min(local.sourceDone ? Infinity : local.avail.length, remote.sourceDone ? Infinity : remote.avail.length);
    if (!local.sourceDone) this.budget = Math.max(this.budget, cap);
    else {
      const t = this.now();
      this.budget = Math.max(this.budget, Math.min(cap, this.budget + this.rate * (t - this.lastTick)));
      this.lastTick = t;
    }
    for (const side of ["local", "remote"] as const) this.release(side);
    if (local.doneEmitted && remote.doneEmitted) {
      this.stop();
      this.resolveFinished();
    }
  }

  private release(side: PacedSide): void {
    const s = this.sides[side];
    if (s.doneEmitted) return;
    let n = Math.min(s.avail.length, Math.floor(this.budget));
    // never split a surrogate pair
    if (n > 0 && n < s.avail.length && /[\uD800-\uDBFF]/.test(s.avail[n - 1]!)) n -= 1;
    const target = s.avail.slice(0, n);
    if (target !== s.shown) {
      let p = 0;
      const max = Math.min(target.length, s.shown.length);
      while (p < max && target.charCodeAt(p) === s.shown.charCodeAt(p)) p++;
      this.out.text(side, p, target.slice(p));
      s.shown = target;
    }
    if (s.sourceDone && s.shown === s.avail) {
      s.doneEmitted = true;
      this.out.done(side, s.avail, s.finishReason);
    }
  }
}
