// Loop settings an admin changes at run time, in three Setting rows: "schedule", "dpo" (the
// hyperparameters) and "gates". The seed writes the first defaults; every read re-validates,
// because rows written by an older version of the code outlive it.
import { z } from "zod";
import type { PrismaClient } from "../../../generated/prisma/client.ts";

export const scheduleSchema = z.object({
  /** start a round automatically when enough new decisive votes exist */
  autoTrain: z.boolean().default(true),
  /**
   * 1000: the house model learns the reward only from rounds of about a thousand pairs (the sim:
   * rounds of 50–400 pairs memorised their pairs and moved the policy without raising the reward;
   * 1,000–2,400 pairs reached held-out accuracy 0.56–0.62 and raised it). With 20% held out the
   * gates judge 200 pairs, where one round of 64 left them 16 (a coin flip).
   */
  minNewPairs: z.number().int().min(1, "minNewPairs must be at least 1").max(1_000_000).default(1000),
  /** how often each trainer checks the schedule */
  checkIntervalSeconds: z.number().int().min(1).max(3600).default(60),
});

export const dpoSchema = z.object({
  beta: z.number().gt(0, "β must be > 0").max(10, "β must be ≤ 10 (larger makes the KL penalty dominate)").default(0.1),
  lossType: z.enum(["sigmoid", "ipo", "robust", "hinge"]).default("sigmoid"),
  labelSmoothing: z.number().min(0).max(0.49, "labelSmoothing must be < 0.5").default(0),
  sftWeight: z.number().min(0).max(10).default(0),
  learningRate: z.number().min(1e-7, "learningRate must be ≥ 1e-7").max(1e-2, "learningRate must be ≤ 1e-2 (higher diverges)").default(5e-5),
  weightDecay: z.number().min(0).max(1).default(0),
  epochs: z.number().int().min(1).max(20).default(2),
  /** 32: large batches average out the per-pair noise of whole-completion log-probs */
  batchPairs: z.number().int().min(1).max(64).default(32),
  /**
   * cap on the new pairs one round uses (newest unused votes first). 1200: votes that arrive while
   * a round trains make the next one a little bigger, but a round stays a few minutes long on two
   * cores shared with the arena (a 2,000-pair round took ~12 minutes there). At lr 5e-5 × 2 epochs
   * × 32 pairs per step even a 1,920-pair round moved the house model only 6 nats on the KL gate's
   * samples (budget 8).
   */
  maxPairs: z.number().int().min(2).max(100_000).default(1200),
  /** fraction of pairs held out for evaluation and gates */
  heldoutFraction: z.number().min(0).max(0.5).default(0.2),
  /** older, already-trained pairs mixed in, as a fraction of the new pairs */
  replayFraction: z.number().min(0).max(2).default(0),
  /** fewer usable pairs than this: the round fails with a clear error instead of training */
  minPairs: z.number().int().min(2).max(100_000).default(4),
  /** prompts sampled to estimate KL(policy‖reference) for the KL gate */
  klPrompts: z.number().int().min(0).max(256).default(8),
  /** π_ref: "fixed" = the lineage's root (v0), "iterative" = the version the round starts from */
  reference: z.enum(["fixed", "iterative"]).default("iterative"),
  seed: z.number().int().min(0).default(1234),
});

const nullableThreshold = (min: number, max: number) => z.number().min(min).max(max).nullable();
export const gatesSchema = z.object({
  /** held-out preference accuracy must be strictly above this; null disables the gate */
  minHeldoutAccuracy: nullableThreshold(0, 1).default(0.5),
  /** held-out DPO loss must be below this (log 2 = untrained); null disables the gate */
  maxHeldoutLoss: nullableThreshold(0, 100).default(Math.LN2),
  /** KL(policy‖reference) in nats per completion must be at most this; null disables the gate */
  klBudget: nullableThreshold(0, 1000).default(8),
});

export const loopSettingsSchema = z.object({
  schedule: scheduleSchema.prefault({}),
  dpo: dpoSchema.prefault({}),
  gates: gatesSchema.prefault({}),
});

export type LoopSettings = z.infer<typeof loopSettingsSchema>;
export type DpoSettings = z.infer<typeof dpoSchema>;
export type GateSettings = z.infer<typeof gatesSchema>;
const KEYS = ["schedule", "dpo", "gates"] as const;

/** A partial update as an admin sends it; unknown keys are an error, not silently dropped. */
export const loopSettingsPatchSchema = z
  .object({
    schedule: scheduleSchema.partial().strict().optional(),
    dpo: dpoSchema.partial().strict().optional(),
    gates: gatesSchema.partial().strict().optional(),
  })
  .strict();
export type LoopSettingsPatch = z.infer<typeof loopSettingsPatchSchema>;

type Reader = Pick<PrismaClient, "setting">;

async function readRaw(db: Reader): Promise<Record<string, unknown>> {
  const rows = await db.setting.findMany({ where: { key: { in: [...KEYS] } }, select: { key: true, value: true } });
  // Keys other code stores in the same rows (none today) are dropped rather than rejected.
  return Object.fromEntries(rows.map((r) => [r.key, r.value]));
}

export async function getLoopSettings({ db }: { db: Reader }): Promise<LoopSettings> {
  const raw = await readRaw(db);
  const parsed = z.object({ schedule: scheduleSchema.prefault({}), dpo: dpoSchema.prefault({}), gates: gatesSchema.prefault({}) }).safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new Error(`stored loop settings are invalid (${problems}); save valid values from the admin page`);
  }
  return parsed.data;
}

export async function updateLoopSettings({ db, patch }: { db: PrismaClient; patch: LoopSettingsPatch }): Promise<LoopSettings> {
  const checked = loopSettingsPatchSchema.parse(patch);
  return db.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('dpo-arena:settings'))`;
    const current = await getLoopSettings({ db: tx });
    const next = loopSettingsSchema.parse({
      schedule: { ...current.schedule, ...checked.schedule },
      dpo: { ...current.dpo, ...checked.dpo },
      gates: { ...current.gates, ...checked.gates },
    });
    for (const key of KEYS) {
      await tx.setting.upsert({ where: { key }, create: { key, value: next[key] }, update: { value: next[key] } });
    }
    return next;
  });
}
