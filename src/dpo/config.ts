// long file: every loop setting with its bounds, default and the measurement behind it, in one schema the settings service, the rounds page and the sim all read
// The loop's configuration, in one place: the zod schemas below are what the settings service
// stores, what a round's executor reads, what the offline sim defaults to and what the rounds
// page's form is generated from (labels, help and bounds come from here, so they cannot drift).
// Field names are the library's own (`lr`, `batchSize`, …): nothing renames them on the way.
//
// Three groups: `schedule` (when a round starts), `dpo` (how it trains and which data it uses)
// and `gates` (what it must prove before it is served). β has a default for the product's
// settings, but the library's `resolveDpoConfig` still demands it explicitly: there is no value
// that suits every reward scale, and a caller of the library must choose.
//
// This file imports only zod and the loss names, so client components can import it.
import { z } from "zod";
import { LOSS_TYPES } from "./losses.ts";

export interface FieldMeta {
  label: string;
  help: string;
  /** the form's step for number inputs */
  step?: string;
}
const meta = (m: FieldMeta): { [k: string]: unknown } & FieldMeta => ({ ...m });

export const scheduleSchema = z.object({
  autoTrain: z
    .boolean()
    .default(true)
    .meta(meta({ label: "Start rounds automatically", help: "when enough new votes exist" })),
  /**
   * 1000: the house model learns the reward only from rounds of about a thousand pairs (the sim:
   * rounds of 50–400 pairs memorised their pairs and moved the policy without raising the reward;
   * 1,000–2,400 pairs reached held-out accuracy 0.56–0.62 and raised it).
   */
  minNewPairs: z
    .number()
    .int()
    .min(1, "minNewPairs must be at least 1")
    .max(1_000_000)
    .default(1000)
    .meta(meta({ label: "New votes per round", help: "a round starts once this many unused A/B votes exist", step: "1" })),
  checkIntervalSeconds: z
    .number()
    .int()
    .min(1)
    .max(3600)
    .default(60)
    .meta(meta({ label: "Schedule check (s)", help: "how often each trainer looks", step: "1" })),
});

export const dpoSchema = z.object({
  beta: z
    .number()
    .gt(0, "β must be > 0")
    .max(10, "β must be ≤ 10 (larger makes the KL penalty dominate)")
    .default(0.1)
    .meta(meta({ label: "β (KL strength)", help: "larger keeps the policy closer to its reference", step: "0.01" })),
  lossType: z
    .enum(LOSS_TYPES)
    .default("sigmoid")
    .meta(meta({ label: "Loss", help: "TRL loss_type" })),
  labelSmoothing: z
    .number()
    .min(0)
    .max(0.49, "labelSmoothing must be < 0.5")
    .default(0)
    .meta(meta({ label: "Label smoothing", help: "assumed share of flipped votes (sigmoid/robust)", step: "0.01" })),
  sftWeight: z
    .number()
    .min(0)
    .max(10)
    .default(0)
    .meta(meta({ label: "SFT weight", help: "NLL of the chosen answer", step: "0.1" })),
  /**
   * Labeler quality (issue 15) in training: "weight" multiplies each pair's loss by the posterior
   * probability that its vote is right (the reliability model over all votes and gold answers);
   * "exclude" drops pairs whose probability is below `minVoteConfidence`; "off" counts every vote
   * the same. "weight" by default: with 30% careless labelers of any kind it kept 0.75–0.89 of the
   * clean run's gain (off 0.36–0.81, exclude 0.62–1.08), and cost nothing without careless ones
   * (docs/labeler-quality.md, "Measured").
   */
  labelerWeighting: z
    .enum(["off", "weight", "exclude"])
    .default("weight")
    .meta(meta({ label: "Labeler reliability", help: "weight: each vote counts by how likely it is right; exclude: drop doubtful votes" })),
  minVoteConfidence: z
    .number()
    .min(0)
    .max(1)
    .default(0.5)
    .meta(meta({ label: "Min vote confidence", help: "exclude: votes less likely right than this are dropped", step: "0.05" })),
  lr: z
    .number()
    .min(1e-7, "lr must be ≥ 1e-7")
    .max(1e-2, "lr must be ≤ 1e-2 (higher diverges)")
    .default(5e-5)
    .meta(meta({ label: "Learning rate", help: "peak AdamW rate", step: "0.00001" })),
  /** linear warmup: step t uses lr·min(1, (t+1)/warmupSteps) */
  warmupSteps: z
    .number()
    .int()
    .min(0)
    .max(100_000)
    .default(0)
    .meta(meta({ label: "Warmup steps", help: "linear ramp to the learning rate", step: "1" })),
  maxGradNorm: z
    .number()
    .gt(0)
    .max(1000)
    .default(1)
    .meta(meta({ label: "Max grad norm", help: "global gradient clip", step: "0.1" })),
  weightDecay: z
    .number()
    .min(0)
    .max(1)
    .default(0)
    .meta(meta({ label: "Weight decay", help: "decoupled (AdamW)", step: "0.01" })),
  epochs: z
    .number()
    .int()
    .min(1)
    .max(20)
    .default(2)
    .meta(meta({ label: "Epochs", help: "passes over the training pairs (early stopping may end sooner)", step: "1" })),
  /** 32: large batches average out the per-pair noise of whole-completion log-probs */
  batchSize: z
    .number()
    .int()
    .min(1)
    .max(64)
    .default(32)
    .meta(meta({ label: "Pairs per step", help: "pairs in one optimizer step", step: "1" })),
  /**
   * Checkpoint selection: held-out loss is measured every this many steps; the best checkpoint
   * inside both KL budgets is kept. 10: a default round (~800 train pairs × 2 epochs / 32) has
   * ~50 steps, so five looks, each scoring the held-out set once (seconds on the house model).
   */
  evalEverySteps: z
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(10)
    .meta(meta({ label: "Evaluate every (steps)", help: "held-out check for checkpoint selection", step: "1" })),
  /** early stop after this many evaluations without a better held-out loss; 0 never stops early */
  patience: z
    .number()
    .int()
    .min(0)
    .max(1000)
    .default(2)
    .meta(meta({ label: "Early-stop patience", help: "evaluations without improvement before stopping (0 = never)", step: "1" })),
  /** cap on the new pairs one round trains on (newest first) */
  maxPairs: z
    .number()
    .int()
    .min(2)
    .max(100_000)
    .default(1200)
    .meta(meta({ label: "Max new pairs", help: "newest trainable votes first", step: "1" })),
  /** fewer trainable pairs than this: the round fails with a clear error instead of training */
  minPairs: z
    .number()
    .int()
    .min(2)
    .max(100_000)
    .default(4)
    .meta(meta({ label: "Min train pairs", help: "fewer fails the round", step: "1" })),
  /**
   * Share of prompts (by normalized text) whose votes form the persistent held-out set. A
   * prompt's side is decided once and kept, so raising this later never moves prompts that were
   * trained on into the held-out set.
   */
  heldoutFraction: z
    .number()
    .min(0)
    .max(0.5)
    .default(0.2)
    .meta(meta({ label: "Held-out share", help: "of prompts, kept for evaluation", step: "0.05" })),
  /** the newest held-out pairs a round evaluates on (evaluation cost grows with it) */
  maxHeldoutPairs: z
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(1000)
    .meta(meta({ label: "Max held-out pairs", help: "newest first", step: "1" })),
  /** older pairs already absorbed into the serving lineage mixed in, as a fraction of the new ones */
  replayFraction: z
    .number()
    .min(0)
    .max(2)
    .default(0)
    .meta(meta({ label: "Replay share", help: "of already-trained pairs", step: "0.1" })),
  /** votes on serving-vs-earlier battles become off-policy pairs */
  versusPairs: z
    .boolean()
    .default(true)
    .meta(meta({ label: "Train on serving-vs-earlier votes", help: "as off-policy pairs" })),
  /**
   * Pairs of imported preference datasets (TRL / Anthropic HH files, Admin → Preference data) join
   * the votes, newest first, at most `maxPairs` of them. Off by default: offline data was not
   * judged by this arena's labelers, so a round should use it only when an admin says so.
   */
  importedPairs: z
    .boolean()
    .default(false)
    .meta(meta({ label: "Train on imported preference data", help: "offline pairs from Admin → Preference data (at most Max new pairs)" })),
  /** decisive preferences apps sent with POST /v1/preferences join the votes, at most `maxPairs` */
  apiPairs: z
    .boolean()
    .default(false)
    .meta(meta({ label: "Train on API preferences", help: "A/B choices apps send to /v1/preferences (at most Max new pairs)" })),
  /** held-out pool prompts the KL is measured on (at the arena's served length) */
  klPrompts: z
    .number()
    .int()
    .min(0)
    .max(512)
    .default(32)
    .meta(meta({ label: "KL prompts", help: "held-out prompts for the drift measurement", step: "1" })),
  klSamplesPerPrompt: z
    .number()
    .int()
    .min(1)
    .max(64)
    .default(4)
    .meta(meta({ label: "KL samples per prompt", help: "clustered by prompt", step: "1" })),
  /** π_ref: "fixed" = the lineage's root, "iterative" = the version the round starts from */
  reference: z
    .enum(["fixed", "iterative"])
    .default("iterative")
    .meta(meta({ label: "Reference", help: "fixed = the lineage root; iterative = the round's base" })),
  seed: z
    .number()
    .int()
    .min(0)
    .default(1234)
    .meta(meta({ label: "Seed", help: "shuffling and KL samples", step: "1" })),
  scoreBatchSize: z
    .number()
    .int()
    .min(1)
    .max(256)
    .default(16)
    .meta(meta({ label: "Scoring batch", help: "sequences per no-grad pass", step: "1" })),
});

const nullableNumber = (min: number, max: number) => z.number().min(min).max(max).nullable();
export const gatesSchema = z.object({
  /** 200 (the issue's floor): below it a one-sided test on the held-out loss has little power */
  minHeldoutPairs: z
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .default(200)
    .meta(meta({ label: "Min held-out pairs", help: "fewer: the schedule waits for votes", step: "1" })),
  /** one-sided confidence of the held-out improvement test and of the KL upper bounds */
  confidence: z
    .number()
    .min(0.5)
    .max(0.999)
    .default(0.95)
    .meta(meta({ label: "Confidence", help: "of the improvement test and KL bounds", step: "0.01" })),
  /**
   * On by default: a round must beat its own start on held-out votes. Off is for demos and tests
   * whose labels carry no signal (the test is still computed and shown, it just does not block).
   */
  requireImprovement: z
    .boolean()
    .default(true)
    .meta(meta({ label: "Require held-out improvement", help: "off: the improvement test is shown but does not block promotion" })),
  /**
   * Per-round drift: the upper bound of KL(candidate‖reference), nats per completion at the
   * served length. 12: the old gate allowed 8 nats on 32-token samples; the arena serves 64, and
   * the measured KL roughly doubles with length (round 1 of an earlier run: 4.9 at 32, 8.8 at 64).
   * The root budget below is the binding one.
   */
  klBudget: nullableNumber(0, 10_000)
    .default(12)
    .meta(meta({ label: "Per-round KL budget (nats)", help: "empty turns it off", step: "0.5" })),
  /**
   * Drift from the lineage root (v0 or an imported base), nats per completion at the served
   * length: the binding guard against reward hacking. 12, measured with the honest sim (64-byte
   * served length, docs/sim/RESULTS.md session 6): promoted versions 3.2–6.4 nats from v0 kept
   * the held-out corpus loss within 5.2% of v0's and repetition at v0's; the one at 15.3 nats
   * (+1.64 v0-std) had 14% worse corpus loss, past the 10% the loop must keep. 12 stops before
   * that point and leaves room for two or three first-sized promotions. (It was 24, argued from
   * the collapsed run, where repetition took over from 39 nats: that bounded repetition, not
   * fluency.) The optimum it bounds (π_v0·exp(c·r)) would gain +0.5 v0-std within 0.2 nats: the
   * budget is not what limits the gain.
   */
  rootKlBudget: nullableNumber(0, 100_000)
    .default(12)
    .meta(meta({ label: "Drift budget from root (nats)", help: "empty turns it off", step: "1" })),
});

export const loopConfigSchema = z.object({
  schedule: scheduleSchema.prefault({}),
  dpo: dpoSchema.prefault({}),
  gates: gatesSchema.prefault({}),
});

export type ScheduleConfig = z.infer<typeof scheduleSchema>;
export type DpoSettings = z.infer<typeof dpoSchema>;
export type GateConfig = z.infer<typeof gatesSchema>;
export type LoopConfig = z.infer<typeof loopConfigSchema>;
export const LOOP_GROUPS = ["schedule", "dpo", "gates"] as const;
export type LoopGroup = (typeof LOOP_GROUPS)[number];

export const DEFAULT_GATES: GateConfig = gatesSchema.parse({});

/** A round's resolved configuration: the dpo group plus its gates. */
export type DpoConfig = DpoSettings & { gates: GateConfig };
export type DpoConfigInput = { beta: number } & Partial<Omit<DpoSettings, "beta">> & { gates?: Partial<GateConfig> };

export function resolveDpoConfig(input: DpoConfigInput): DpoConfig {
  if (input === null || typeof input !== "object") throw new Error("DPO config: expected an object with at least { beta }");
  if (input.beta === undefined) throw new Error("DPO config: beta is required (there is no default; 0.1 is TRL's usual starting point)");
  const { gates, ...rest } = input;
  const dpo = dpoSchema.strict().safeParse(rest);
  const g = gatesSchema.strict().safeParse(gates ?? {});
  const issues = [...(dpo.error?.issues ?? []), ...(g.error?.issues.map((i) => ({ ...i, path: ["gates", ...i.path] })) ?? [])];
  if (issues.length || !dpo.success || !g.success) {
    throw new Error(`DPO config: ${issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`);
  }
  if (dpo.data.labelSmoothing !== 0 && dpo.data.lossType !== "sigmoid" && dpo.data.lossType !== "robust") {
    throw new Error(`DPO config: labelSmoothing must be 0 for lossType "${dpo.data.lossType}"`);
  }
  return { ...dpo.data, gates: g.data };
}

/** Learning rate of 0-based step t under linear warmup to a constant peak. */
export function learningRateAt(config: Pick<DpoSettings, "lr" | "warmupSteps">, step: number): number {
  return config.warmupSteps > 0 ? config.lr * Math.min(1, (step + 1) / config.warmupSteps) : config.lr;
}

/**
 * The schema of a partial update of one group: every field optional and WITHOUT its default
 * (zod's .partial() keeps defaults, so a patch of one field would reset all the others).
 */
export function patchSchemaOf<S extends z.ZodObject>(schema: S) {
  const shape = Object.fromEntries(
    Object.entries(schema.shape).map(([k, f]) => {
      const def = (f as unknown as { _zod: { def: AnyDef } })._zod.def;
      return [k, (def.type === "default" && def.innerType ? def.innerType : (f as z.ZodType)).optional()];
    }),
  );
  return z.object(shape).strict() as unknown as z.ZodType<Partial<z.output<S>>>;
}

/** One form field, generated from the schema (the rounds page renders these). */
export interface LoopField extends FieldMeta {
  group: LoopGroup;
  name: string;
  kind: "number" | "boolean" | "enum";
  nullable: boolean;
  integer: boolean;
  min: number | null;
  max: number | null;
  options: string[];
  defaultValue: unknown;
}

type AnyDef = { type: string; innerType?: z.ZodType; entries?: Record<string, string> };
function unwrap(schema: z.ZodType): { inner: z.ZodType; nullable: boolean } {
  let s = schema;
  let nullable = false;
  for (;;) {
    const def = (s as unknown as { _zod: { def: AnyDef } })._zod.def;
    if (def.type === "nullable") nullable = true;
    if ((def.type === "default" || def.type === "nullable" || def.type === "prefault" || def.type === "optional") && def.innerType)
      s = def.innerType;
    else return { inner: s, nullable };
  }
}

export function loopFields(): LoopField[] {
  const out: LoopField[] = [];
  const groups = { schedule: scheduleSchema, dpo: dpoSchema, gates: gatesSchema } as const;
  for (const group of LOOP_GROUPS) {
    const defaults = groups[group].parse({}) as Record<string, unknown>;
    for (const [name, field] of Object.entries(groups[group].shape) as [string, z.ZodType][]) {
      const m = (field.meta() ?? {}) as Partial<FieldMeta>;
      const { inner, nullable } = unwrap(field);
      const def = (inner as unknown as { _zod: { def: AnyDef } })._zod.def;
      const num = inner as unknown as { minValue?: number | null; maxValue?: number | null; isInt?: boolean };
      const kind = def.type === "boolean" ? "boolean" : def.type === "enum" ? "enum" : "number";
      out.push({
        group,
        name,
        label: m.label ?? name,
        help: m.help ?? "",
        step: m.step,
        kind,
        nullable,
        integer: kind === "number" && Boolean(num.isInt),
        min: kind === "number" && Number.isFinite(num.minValue) ? (num.minValue as number) : null,
        max: kind === "number" && Number.isFinite(num.maxValue) ? (num.maxValue as number) : null,
        options: kind === "enum" ? Object.values(def.entries ?? {}) : [],
        defaultValue: defaults[name],
      });
    }
  }
  return out;
}
