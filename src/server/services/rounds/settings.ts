// Loop settings an admin changes at run time: the schedule and the DPO hyperparameters.
// Stored as one JSON row in Setting; every read re-validates, because rows written by an older
// version of the code outlive it.
import { z } from "zod";
import type { PrismaClient } from "../../../generated/prisma/client.ts";

export const LOOP_SETTINGS_KEY = "loop";

export const scheduleSchema = z.object({
  /** start a round automatically when enough new decisive votes exist */
  enabled: z.boolean().default(true),
  minNewVotes: z.number().int().min(1, "minNewVotes must be at least 1").max(1_000_000).default(64),
  /** how often each trainer checks the schedule */
  checkIntervalSeconds: z.number().int().min(1).max(3600).default(15),
});

export const hyperparametersSchema = z.object({
  beta: z.number().gt(0, "β must be > 0").max(10, "β above 10 makes the KL penalty dominate; use ≤ 10").default(0.1),
  lossType: z.enum(["sigmoid", "ipo", "robust", "hinge"]).default("sigmoid"),
  labelSmoothing: z.number().min(0).max(0.49, "label smoothing must be < 0.5").default(0),
  sftWeight: z.number().min(0).max(10).default(0),
  lr: z.number().min(1e-7, "lr must be ≥ 1e-7").max(1e-2, "lr above 1e-2 diverges for these models").default(5e-4),
  weightDecay: z.number().min(0).max(1).default(0),
  epochs: z.number().int().min(1).max(20).default(2),
  batchSize: z.number().int().min(1).max(64).default(8),
  /** longest prompt + completion fed to training, in tokens */
  maxLength: z.number().int().min(8).max(4096).default(192),
  /** cap on the pairs one round uses (oldest unused votes first) */
  maxPairs: z.number().int().min(2).max(100_000).default(300),
  /** pairs held out for evaluation and gates */
  heldoutFraction: z.number().min(0).max(0.5).default(0.15),
  /** older, already-used pairs mixed in, as a fraction of the new pairs */
  replayFraction: z.number().min(0).max(2).default(0),
  /** fewer usable pairs than this: the round fails with a clear error instead of training */
  minPairs: z.number().int().min(1).max(100_000).default(4),
  seed: z.number().int().min(0).default(1234),
});

export const gatesSchema = z.object({
  /** held-out preference accuracy (chosen reward > rejected reward) must reach this */
  minHeldoutAccuracy: z.number().min(0).max(1).default(0.5),
  /** mean KL(policy ‖ base) per token on held-out prompts must stay below this */
  maxKl: z.number().positive().default(1),
});

export const loopSettingsSchema = z.object({
  schedule: scheduleSchema.prefault({}),
  hyperparameters: hyperparametersSchema.prefault({}),
  gates: gatesSchema.prefault({}),
});

export type LoopSettings = z.infer<typeof loopSettingsSchema>;
export type Hyperparameters = z.infer<typeof hyperparametersSchema>;

/** A partial update as an admin sends it; unknown keys are an error, not silently dropped. */
export const loopSettingsPatchSchema = z
  .object({
    schedule: scheduleSchema.partial().strict().optional(),
    hyperparameters: hyperparametersSchema.partial().strict().optional(),
    gates: gatesSchema.partial().strict().optional(),
  })
  .strict();
export type LoopSettingsPatch = z.infer<typeof loopSettingsPatchSchema>;

export async function getLoopSettings({ db }: { db: PrismaClient }): Promise<LoopSettings> {
  const row = await db.setting.findUnique({ where: { key: LOOP_SETTINGS_KEY }, select: { value: true } });
  const parsed = loopSettingsSchema.safeParse(row?.value ?? {});
  if (!parsed.success) throw new Error(`stored loop settings are invalid (${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}); save valid settings from the admin page`);
  return parsed.data;
}

export async function updateLoopSettings({ db, patch }: { db: PrismaClient; patch: LoopSettingsPatch }): Promise<LoopSettings> {
  const checkedPatch = loopSettingsPatchSchema.parse(patch);
  return db.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('dpo-arena:settings'))`;
    const row = await tx.setting.findUnique({ where: { key: LOOP_SETTINGS_KEY }, select: { value: true } });
    const current = loopSettingsSchema.parse(row?.value ?? {});
    const next = loopSettingsSchema.parse({
      schedule: { ...current.schedule, ...checkedPatch.schedule },
      hyperparameters: { ...current.hyperparameters, ...checkedPatch.hyperparameters },
      gates: { ...current.gates, ...checkedPatch.gates },
    });
    await tx.setting.upsert({ where: { key: LOOP_SETTINGS_KEY }, create: { key: LOOP_SETTINGS_KEY, value: next }, update: { value: next } });
    return next;
  });
}
