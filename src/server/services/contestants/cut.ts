// A contestant's answer ends by the rule the local side ends by (sampler/stop-rule.ts): it aims
// for the arena's "max new tokens", counted in the serving model's unit, then ends at the next
// word or sentence boundary within the same overshoot, or where the contestant ended it. So a
// long answer cannot give the contestant away by its length or by a cut the local side never
// makes. The contestant's own tokenizer is unknown: for a byte-level serving model its text is
// counted in UTF-8 bytes (exact); for a subword one each streamed delta counts as one token
// (OpenAI-compatible servers stream a token per chunk).
import { BoundaryStop, type LengthUnit, overshootFor, planStop, type StopPlan } from "../../sampler/stop-rule.ts";

/** Not a token id any model uses: marks "the contestant ended its answer" to BoundaryStop. */
const END = -1;
const TEXT = -2;

export type ContestantFinish = "eos" | "boundary" | "length";

export class ContestantCut {
  private readonly stop: BoundaryStop;
  readonly plan: StopPlan;
  private count = 0;
  private raw = "";
  /** what a viewer may see now (text past the target waits until its cut is known) */
  visible = "";
  finish: ContestantFinish | null = null;

  constructor(
    private readonly unit: LengthUnit,
    maxNewTokens: number,
  ) {
    // The contestant's context is not known: its server refuses what does not fit.
    this.plan = planStop(maxNewTokens, overshootFor(unit), Number.MAX_SAFE_INTEGER);
    this.stop = new BoundaryStop(1, this.plan, END);
  }

  /** How many tokens to ask the contestant for: enough to reach the limit in either unit. */
  get requestTokens(): number {
    return this.plan.limit;
  }

  /** Feeds one streamed delta; returns true once the answer's end is known (stop reading). */
  push(delta: string): boolean {
    if (this.finish) return true;
    if (this.unit === "tokens") return this.observe(delta);
    for (const ch of delta) {
      // One observation per byte; the text grows with the character's last byte.
      const bytes = Buffer.byteLength(ch, "utf8");
      for (let i = 1; i < bytes; i++) if (this.observe("")) return true;
      if (this.observe(ch)) return true;
    }
    return false;
  }

  /** The contestant's stream ended (finish_reason "stop" or "length", or the body ended). */
  end(reason: "stop" | "length" | null): void {
    if (this.finish) return;
    if (reason === "length") {
      this.finish = "length";
      this.visible = this.raw;
      return;
    }
    this.stop.observe(0, END, this.raw);
    this.visible = this.raw;
    this.finish = "eos";
  }

  private observe(piece: string): boolean {
    this.raw += piece;
    this.count += 1;
    const shown = this.stop.observe(0, TEXT, this.raw);
    if (shown) this.visible = shown.text;
    if (this.stop.cutOf(0)) {
      this.finish = "boundary";
      this.visible = this.stop.cutOf(0)!.text;
      return true;
    }
    if (this.count >= this.plan.limit) {
      // No boundary within the overshoot: like the local side, it keeps what it has.
      this.finish = "length";
      this.visible = this.raw;
      return true;
    }
    return false;
  }

  get text(): string {
    return this.visible;
  }
}
