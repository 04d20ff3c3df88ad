// Labeler quality in the leaderboard (issue 15): "all" (default) rates every counted vote, as
// FastChat does; "exclude-doubtful" leaves out votes whose probability of being right (the
// reliability model over all votes and gold answers) is below `minConfidence`. Either way the
// battles export (/api/export/battles) stays the unfiltered clean_battle data, so the
// FastChat-method numbers can always be recomputed from it.
import { z } from "zod";
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { AppError } from "../../errors.ts";

export const QUALITY_FILTER_SETTING_KEY = "leaderboard.labelerQuality";
export const leaderboardQualitySchema = z
  .object({
    mode: z.enum(["all", "exclude-doubtful"], { message: 'mode must be "all" or "exclude-doubtful"' }),
    minConfidence: z.number().min(0, "minConfidence must be between 0 and 1").max(1, "minConfidence must be between 0 and 1").default(0.5),
  })
  .strict();
export type LeaderboardQuality = z.infer<typeof leaderboardQualitySchema>;
export const DEFAULT_LEADERBOARD_QUALITY: LeaderboardQuality = { mode: "all", minConfidence: 0.5 };

export async function getLeaderboardQuality({ db }: { db: Pick<PrismaClient, "setting"> }): Promise<LeaderboardQuality> {
  const row = await db.setting.findUnique({ where: { key: QUALITY_FILTER_SETTING_KEY }, select: { value: true } });
  if (!row) return DEFAULT_LEADERBOARD_QUALITY;
  const parsed = leaderboardQualitySchema.safeParse(row.value);
  if (!parsed.success) {
    throw new AppError("INTERNAL", {
      message: `stored setting "${QUALITY_FILTER_SETTING_KEY}" is invalid (${parsed.error.issues.map((i) => i.message).join("; ")}); set it again on /leaderboard`,
    });
  }
  return parsed.data;
}

export async function setLeaderboardQuality({
  db,
  quality,
}: {
  db: Pick<PrismaClient, "setting">;
  quality: LeaderboardQuality;
}): Promise<LeaderboardQuality> {
  const value = leaderboardQualitySchema.parse(quality);
  await db.setting.upsert({
    where: { key: QUALITY_FILTER_SETTING_KEY },
    create: { key: QUALITY_FILTER_SETTING_KEY, value },
    update: { value },
  });
  return value;
}
