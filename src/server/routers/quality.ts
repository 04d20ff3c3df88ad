// Labeler quality (issue 15): the reliability model's view of every labeler, and gold pairs.
import { z } from "zod";
import { setLabelerExcluded } from "../services/quality/exclusion.ts";
import {
  importGoldPairs,
  listGoldPairs,
  markBattleGold,
  recentFinishedBattles,
  setGoldPairActive,
} from "../services/quality/gold-pairs.ts";
import { labelerQuality } from "../services/quality/labeler-quality.ts";
import { adminProcedure, router } from "../trpc.ts";
import { idSchema } from "./inputs.ts";

/** 5 MB of text: thousands of gold pairs; bigger sets should be split into several files. */
const MAX_GOLD_IMPORT_CHARS = 5_000_000;

export const qualityRouter = router({
  labelers: adminProcedure.input(z.object({}).strict().optional()).query(({ ctx }) => labelerQuality({ db: ctx.db })),

  goldPairs: adminProcedure
    .input(
      z
        .object({
          status: z.enum(["all", "active", "inactive"]).default("all"),
          page: z.number().int().min(0).max(100_000).default(0),
          pageSize: z.number().int().min(1).max(200).default(50),
        })
        .strict(),
    )
    .query(({ ctx, input }) => listGoldPairs({ db: ctx.db, ...input })),

  importGold: adminProcedure
    .input(
      z
        .object({
          content: z
            .string()
            .min(1, "The file is empty")
            .max(MAX_GOLD_IMPORT_CHARS, `At most ${MAX_GOLD_IMPORT_CHARS} characters; split the file`),
          filename: z.string().trim().max(200, "At most 200 characters").optional(),
        })
        .strict(),
    )
    .mutation(async ({ ctx, input }) => {
      const report = await importGoldPairs({ db: ctx.db, ...input, createdById: ctx.user.id });
      ctx.log.info("quality: gold pairs imported", { actorId: ctx.user.id, added: report.added, rejected: report.rejected.length });
      return report;
    }),

  setGoldActive: adminProcedure.input(z.object({ goldPairId: idSchema, active: z.boolean() }).strict()).mutation(async ({ ctx, input }) => {
    const result = await setGoldPairActive({ db: ctx.db, ...input });
    ctx.log.info("quality: gold pair active changed", { actorId: ctx.user.id, ...input });
    return result;
  }),

  /** the newest voted battles, to mark one as gold by hand */
  recentBattles: adminProcedure
    .input(z.object({ limit: z.number().int().min(1).max(100).default(20) }).strict())
    .query(({ ctx, input }) => recentFinishedBattles({ db: ctx.db, limit: input.limit })),

  markGold: adminProcedure
    .input(
      z
        .object({
          battleId: idSchema,
          expected: z.enum(["A", "B", "TIE"], { message: "The expected answer must be A, B or TIE" }),
          note: z.string().trim().max(500, "At most 500 characters").optional(),
        })
        .strict(),
    )
    .mutation(async ({ ctx, input }) => {
      const result = await markBattleGold({ db: ctx.db, ...input, createdById: ctx.user.id });
      ctx.log.info("quality: battle marked as gold", { actorId: ctx.user.id, battleId: input.battleId, ...result });
      return result;
    }),

  /** excluded: the labeler's votes leave training pools and ratings until restored */
  setExcluded: adminProcedure.input(z.object({ labelerId: idSchema, excluded: z.boolean() }).strict()).mutation(async ({ ctx, input }) => {
    const result = await setLabelerExcluded({ db: ctx.db, ...input });
    ctx.log.info("quality: labeler exclusion changed", { actorId: ctx.user.id, ...input });
    return result;
  }),
});
