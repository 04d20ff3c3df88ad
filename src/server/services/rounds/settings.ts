// Loop settings an admin changes at run time, in three Setting rows: "schedule", "dpo" and
// "gates". Their schema is the DPO library's (src/dpo/config.ts), so the settings, the round
// executor, the offline sim and the rounds page's form share one definition and one set of names.
// The seed writes the first defaults; every read re-validates, because rows written by an older
// version of the code outlive it (migration 20261203110000_loop_guard renamed the old fields).
import { z } from "zod";
import {
  type DpoSettings,
  dpoSchema,
  type GateConfig,
  gatesSchema,
  LOOP_GROUPS,
  type LoopConfig,
  loopConfigSchema,
  patchSchemaOf,
  scheduleSchema,
} from "../../../dpo/config.ts";
import type { PrismaClient } from "../../../generated/prisma/client.ts";

export { dpoSchema, gatesSchema, scheduleSchema };
/** The same schema under the name the seed and older callers import. */
export const loopSettingsSchema = loopConfigSchema;
export type LoopSettings = LoopConfig;
export type { DpoSettings };
export type GateSettings = GateConfig;
const KEYS = LOOP_GROUPS;

/** A partial update as an admin sends it; unknown keys are an error, not silently dropped. */
export const loopSettingsPatchSchema = z
  .object({
    schedule: patchSchemaOf(scheduleSchema).optional(),
    dpo: patchSchemaOf(dpoSchema).optional(),
    gates: patchSchemaOf(gatesSchema).optional(),
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
  const parsed = loopConfigSchema.safeParse(raw);
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
