// Admin statistics: per-labeler quality and speed, agreement (κ), votes per day.
import { z } from "zod";
import { labelerReport, votesPerDay } from "../services/stats/labelers.ts";
import { adminProcedure, router } from "../trpc.ts";

export const statsRouter = router({
  labelers: adminProcedure.input(z.object({}).strict().optional()).query(({ ctx }) => labelerReport({ db: ctx.db })),

  votesPerDay: adminProcedure
    .input(
      z
        .object({ days: z.number().int().min(1).max(365).default(30) })
        .strict()
        .optional(),
    )
    .query(({ ctx, input }) => votesPerDay({ db: ctx.db, days: input?.days ?? 30 })),
});
