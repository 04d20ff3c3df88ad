// Admin-editable arena settings, stored in the "sampling" and "arena" Setting rows the seed
// creates. Every read re-validates: a row written by older code must not break battles.
import { createHash } from "node:crypto";
import { z } from "zod";
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { AppError } from "../../errors.ts";
import { type LengthUnit, lengthUnitForVocab } from "../../sampler/stop-rule.ts";

export const DEFAULT_INSTRUCTIONS = [
  "Pick the completion that continues the prompt better: it stays on the prompt's subject, reads as English, and makes sense.",
  "Judge the text, not its length. Both are from a small model and often imperfect: choose the less bad one when one is clearly better.",
  "Tie when they are about equally good; Both are bad when neither is worth learning from; Skip when you cannot tell.",
].join("\n");

export const samplingSettingsSchema = z.object({
  /** battles need diversity: two samples at temperature 0 would be identical */
  temperature: z.number().gt(0, "Temperature must be > 0 for battles").max(5, "Temperature must be ≤ 5").default(0.9),
  topP: z.number().gt(0, "top-p must be > 0").max(1, "top-p must be ≤ 1").default(0.95),
  /** 0 disables top-k */
  topK: z.number().int("top-k must be a whole number").min(0, "top-k must be ≥ 0 (0 = off)").max(1000, "top-k must be ≤ 1000").default(0),
  /**
   * 64: the length the DPO loop can learn from on the house model (docs/sim/RESULTS.md, session
   * 6). At 160 (~27 words, issue 20's choice for human readers) no round passed its held-out test
   * in 12 tries and the measured effects would need 2,900–44,000 held-out pairs; at 64 (~11
   * words) 4 of 8 rounds passed with 200–600 and raised the true reward by 0.39–1.64 v0-std.
   * An arena that values longer answers over a learning loop can set 160. Completions end at the
   * next word boundary after it (src/server/sampler/stop-rule.ts), on average 2.6 bytes later.
   */
  maxNewTokens: z
    .number()
    .int("Max new tokens must be a whole number")
    .min(1, "Max new tokens must be ≥ 1")
    .max(512, "Max new tokens must be ≤ 512")
    .default(64),
});

export const arenaSettingsSchema = z.object({
  /** share of battles that are two samples of the serving version (the DPO data) */
  onPolicyShare: z
    .number()
    .min(0, "On-policy share must be between 0 and 1")
    .max(1, "On-policy share must be between 0 and 1")
    .default(0.8),
  /**
   * share of the versus battles (those not on-policy) that meet an external contestant instead
   * of an earlier version, when an enabled, reachable contestant exists (issue 17)
   */
  contestantShare: z
    .number()
    .min(0, "Contestant share must be between 0 and 1")
    .max(1, "Contestant share must be between 0 and 1")
    .default(0.5),
  battleLeaseMinutes: z
    .number()
    .int("Lease must be whole minutes")
    .min(1, "Lease must be ≥ 1 minute")
    .max(1440, "Lease must be ≤ 1440 minutes")
    .default(30),
  /** overlap target given to prompts imported without one */
  overlapTarget: z
    .number()
    .int("Overlap target must be a whole number")
    .min(1, "Overlap target must be ≥ 1")
    .max(100, "Overlap target must be ≤ 100")
    .default(1),
  /**
   * share of new pool prompts that two labelers judge (when the default overlap target is 1), so
   * agreement and κ have overlapping items to compare from the first hour on
   */
  agreementShare: z
    .number()
    .min(0, "Agreement share must be between 0 and 1")
    .max(1, "Agreement share must be between 0 and 1")
    .default(0.2),
  /**
   * share of assignments that serve a gold pair (a known answer) when active gold pairs exist;
   * they look like any other battle, and their votes check the labeler instead of training
   */
  goldRate: z.number().min(0, "Gold rate must be between 0 and 0.5").max(0.5, "Gold rate must be between 0 and 0.5").default(0.05),
  /**
   * second-labeler slots of overlap prompts go first to labelers whose reliability estimate is
   * least certain (battles/overlap-preference.ts); off: whoever asks next fills them
   */
  overlapPreferUncertain: z.boolean().default(true),
  /** labelers may type their own prompt instead of taking one from the pool */
  allowLabelerPrompts: z.boolean().default(false),
  /** what "better" means here, shown to a labeler the first time and on demand */
  instructions: z
    .string()
    .trim()
    .min(1, "Instructions must not be empty")
    .max(2000, "Instructions must be at most 2,000 characters")
    .default(DEFAULT_INSTRUCTIONS),
});

export type SamplingSettings = z.infer<typeof samplingSettingsSchema>;
export type ArenaOptions = z.infer<typeof arenaSettingsSchema>;
export interface ArenaSettings {
  sampling: SamplingSettings;
  arena: ArenaOptions;
}

export const arenaSettingsPatchSchema = z
  .object({
    sampling: samplingSettingsSchema.partial().strict().optional(),
    arena: arenaSettingsSchema.partial().strict().optional(),
  })
  .strict();
export type ArenaSettingsPatch = z.infer<typeof arenaSettingsPatchSchema>;

type Db = Pick<PrismaClient, "setting" | "$transaction">;

export async function getArenaSettings({ db }: { db: Pick<PrismaClient, "setting"> }): Promise<ArenaSettings> {
  const rows = await db.setting.findMany({ where: { key: { in: ["sampling", "arena"] } }, select: { key: true, value: true } });
  const raw = Object.fromEntries(rows.map((r) => [r.key, r.value]));
  const sampling = samplingSettingsSchema.safeParse(raw.sampling ?? {});
  const arena = arenaSettingsSchema.safeParse(raw.arena ?? {});
  if (!sampling.success || !arena.success) {
    const issues = [...(sampling.error?.issues ?? []), ...(arena.error?.issues ?? [])].map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new AppError("INTERNAL", { message: `stored arena settings are invalid (${issues.join("; ")}); fix them on /admin/settings` });
  }
  return { sampling: sampling.data, arena: arena.data };
}

/** Merges a validated partial update into the stored rows, in one transaction. */
export async function updateArenaSettings({ db, patch }: { db: Db; patch: ArenaSettingsPatch }): Promise<ArenaSettings> {
  return db.$transaction(async (tx) => {
    const current = await getArenaSettings({ db: tx });
    const next: ArenaSettings = {
      sampling: samplingSettingsSchema.parse({ ...current.sampling, ...patch.sampling }),
      arena: arenaSettingsSchema.parse({ ...current.arena, ...patch.arena }),
    };
    for (const key of ["sampling", "arena"] as const) {
      await tx.setting.upsert({ where: { key }, create: { key, value: next[key] }, update: { value: next[key] } });
    }
    return next;
  });
}

/**
 * The overlap target a new pool prompt gets: the admin's default, except that a share of prompts
 * (`agreementShare`, chosen by a hash of the text, so every replica and a re-import agree) go to
 * two labelers. Without overlapping prompts, agreement and κ stay empty forever.
 */
export function poolOverlapTarget(text: string, arena: Pick<ArenaOptions, "overlapTarget" | "agreementShare">): number {
  if (arena.overlapTarget >= 2 || arena.agreementShare <= 0) return arena.overlapTarget;
  const bucket = createHash("sha256").update(text).digest().readUInt32BE(0) / 2 ** 32;
  return bucket < arena.agreementShare ? 2 : arena.overlapTarget;
}

/**
 * What "max new tokens" counts for the serving model: its config's vocabulary size decides
 * (stop-rule.ts), read from both layouts stored here (Hugging Face `vocab_size`, or GPTConfig
 * `vocabSize` for versions a round produced). null: no serving version, or a config without it.
 */
export async function servingLengthUnit({
  db,
}: {
  db: Pick<PrismaClient, "policyVersion">;
}): Promise<{ unit: LengthUnit | null; version: string | null }> {
  const v = await db.policyVersion.findFirst({ where: { status: "SERVING" }, select: { name: true, modelConfig: true } });
  if (!v) return { unit: null, version: null };
  const c = (v.modelConfig ?? {}) as { vocab_size?: unknown; vocabSize?: unknown };
  const vocab = typeof c.vocab_size === "number" ? c.vocab_size : typeof c.vocabSize === "number" ? c.vocabSize : null;
  return { unit: vocab === null ? null : lengthUnitForVocab(vocab), version: v.name };
}
