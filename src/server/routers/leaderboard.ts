import { z } from "zod";
import { getLeaderboard, refreshLeaderboard } from "../services/leaderboard/cache.ts";
import { getLeaderboardQuality, leaderboardQualitySchema, setLeaderboardQuality } from "../services/leaderboard/labeler-quality-filter.ts";
import {
  assertCanViewLeaderboard,
  getLeaderboardVisibility,
  leaderboardVisibilitySchema,
  setLeaderboardVisibility,
} from "../services/leaderboard/visibility.ts";
import { adminProcedure, publicProcedure, router } from "../trpc.ts";

export const leaderboardRouter = router({
  /** Public procedure, but the visibility setting may require a session (checked in the service). */
  get: publicProcedure.input(z.object({}).strict().optional()).query(async ({ ctx }) => {
    const visibility = await assertCanViewLeaderboard({ db: ctx.db, user: ctx.user });
    return { visibility, ...(await getLeaderboard({ db: ctx.db })) };
  }),

  visibility: adminProcedure.input(z.object({}).strict().optional()).query(({ ctx }) => getLeaderboardVisibility({ db: ctx.db })),

  setVisibility: adminProcedure.input(z.object({ visibility: leaderboardVisibilitySchema }).strict()).mutation(async ({ ctx, input }) => {
    const visibility = await setLeaderboardVisibility({ db: ctx.db, visibility: input.visibility });
    ctx.log.info("leaderboard: visibility changed", { actorId: ctx.user.id, visibility });
    return visibility;
  }),

  /** labeler quality in the ratings: every vote (FastChat's method) or without doubtful votes */
  labelerQuality: adminProcedure.input(z.object({}).strict().optional()).query(({ ctx }) => getLeaderboardQuality({ db: ctx.db })),

  setLabelerQuality: adminProcedure.input(leaderboardQualitySchema).mutation(async ({ ctx, input }) => {
    const quality = await setLeaderboardQuality({ db: ctx.db, quality: input });
    ctx.log.info("leaderboard: labeler quality setting changed", { actorId: ctx.user.id, ...quality });
    return quality;
  }),

  /** Recompute now instead of on the next view after new votes (e.g. after importing data). */
  refresh: adminProcedure.input(z.object({}).strict().optional()).mutation(async ({ ctx }) => {
    const snapshot = await refreshLeaderboard({ db: ctx.db });
    return { votes: snapshot.mark.votes, computeMs: snapshot.computeMs, computedAt: snapshot.computedAt };
  }),
});
