// Which prompts a run imports, and when. Each pool prompt is judged once, so labelers that
// outpace the trainer can use up the whole pool before the rating phase; the phase then has
// nothing to serve and rates nobody (the CI sim test failed that way). So a reserve is held back
// and imported only when the rating phase starts: training can never consume it.
import { bookPrefixes } from "./prompts.ts";
import { sentimentPrefixes } from "./sentiment-prompts.ts";

export type PromptSet = "sentiment" | "book";

export interface PromptPlanOptions {
  set: PromptSet;
  /** prompts imported for the training phase; "all": what the corpus has, less the reserve */
  training: number | "all";
  /** prompts held back for the rating phase (0 without one) */
  reserve: number;
  seed: number;
}

export interface PromptPlan {
  training: string[];
  reserve: string[];
}

export function planPrompts(opts: PromptPlanOptions): PromptPlan {
  if (!Number.isInteger(opts.reserve) || opts.reserve < 0)
    throw new Error(`the rating reserve must be a non-negative integer, got ${opts.reserve}`);
  // One seeded order of every distinct prefix; training takes the front, the reserve the back, so
  // the two never share a prompt.
  const all = opts.set === "sentiment" ? sentimentPrefixes("all", "train", { seed: opts.seed }) : bookPrefixes("all", { seed: opts.seed });
  const training = opts.training === "all" ? all.length - opts.reserve : opts.training;
  if (!Number.isInteger(training) || training < 0 || training + opts.reserve > all.length) {
    throw new Error(
      `the ${opts.set} prompt set has ${all.length} distinct training prompts; ${opts.training === "all" ? "" : `${opts.training} for training + `}${opts.reserve} held back for the rating phase do not fit (lower --extra-prompts or --rating-prompts)`,
    );
  }
  return { training: all.slice(0, training), reserve: all.slice(all.length - opts.reserve) };
}
