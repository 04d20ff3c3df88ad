// Who may see the leaderboard: anyone ("public") or signed-in users only ("labelers", the
// default, so a new arena does not publish its ratings before an admin decides to).
import { z } from "zod";
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { AppError } from "../../errors.ts";

export const VISIBILITY_SETTING_KEY = "leaderboard.visibility";
export const leaderboardVisibilitySchema = z.enum(["public", "labelers"]);
export type LeaderboardVisibility = z.infer<typeof leaderboardVisibilitySchema>;
export const DEFAULT_VISIBILITY: LeaderboardVisibility = "labelers";

const storedSchema = z.object({ visibility: leaderboardVisibilitySchema });

export async function getLeaderboardVisibility({ db }: { db: Pick<PrismaClient, "setting"> }): Promise<LeaderboardVisibility> {
  const row = await db.setting.findUnique({ where: { key: VISIBILITY_SETTING_KEY }, select: { value: true } });
  if (!row) return DEFAULT_VISIBILITY;
  const parsed = storedSchema.safeParse(row.value);
  // Failing closed: a corrupt row must not make private ratings public.
  if (!parsed.success) {
    throw new AppError("INTERNAL", {
      message: `stored setting "${VISIBILITY_SETTING_KEY}" is invalid (${parsed.error.issues.map((i) => i.message).join("; ")}); set it again on /leaderboard`,
    });
  }
  return parsed.data.visibility;
}

export async function setLeaderboardVisibility({
  db,
  visibility,
}: {
  db: Pick<PrismaClient, "setting">;
  visibility: LeaderboardVisibility;
}): Promise<LeaderboardVisibility> {
  const value = { visibility };
  await db.setting.upsert({ where: { key: VISIBILITY_SETTING_KEY }, create: { key: VISIBILITY_SETTING_KEY, value }, update: { value } });
  return visibility;
}

/** Throws UNAUTHENTICATED for an anonymous viewer when the leaderboard is for signed-in users only. */
export async function assertCanViewLeaderboard({
  db,
  user,
}: {
  db: Pick<PrismaClient, "setting">;
  user: { id: string } | null;
}): Promise<LeaderboardVisibility> {
  const visibility = await getLeaderboardVisibility({ db });
  if (visibility === "labelers" && !user) {
    throw new AppError("UNAUTHENTICATED", {
      userMessage: "Sign in to see the leaderboard; an admin has made it visible to signed-in users only.",
    });
  }
  return visibility;
}
