// Admin API of the online loop: rounds (list, inspect with live metrics, trigger, cancel),
// loop settings (schedule, DPO hyperparameters, gates), and policy versions (list, promote,
// roll back). Thin: each procedure validates its input and calls a service.
import { z } from "zod";
import { cancelRound, triggerRound } from "../services/rounds/lifecycle.ts";
import { getRound, listRounds } from "../services/rounds/list.ts";
import { loopReadiness } from "../services/rounds/readiness.ts";
import { getLoopSettings, loopSettingsPatchSchema, updateLoopSettings } from "../services/rounds/settings.ts";
import { listVersions } from "../services/versions/list.ts";
import { promoteVersion, rollbackVersion } from "../services/versions/promote.ts";
import { verifyVersionCheckpoint } from "../services/versions/verify.ts";
import { adminProcedure, router } from "../trpc.ts";

const roundId = z.string().min(1).max(64);
const versionId = z.number().int().positive();

export const roundsRouter = router({
  list: adminProcedure
    .input(
      z
        .object({ limit: z.number().int().min(1).max(200).default(50) })
        .strict()
        .optional(),
    )
    .query(({ ctx, input }) => listRounds({ db: ctx.db, limit: input?.limit ?? 50 })),

  /** One round with its step metrics after `afterStep` (poll with the last step you have). */
  get: adminProcedure
    .input(z.object({ roundId, afterStep: z.number().int().min(-1).default(-1) }).strict())
    .query(({ ctx, input }) => getRound({ db: ctx.db, roundId: input.roundId, afterStep: input.afterStep })),

  /** How many votes exist against the settings, and the drift budget: what "Start a round now" is judged by. */
  readiness: adminProcedure.input(z.object({}).strict().optional()).query(({ ctx }) => loopReadiness({ db: ctx.db })),

  /** Starts a round; below the minimums it is refused unless `force` (the admin confirmed). */
  trigger: adminProcedure
    .input(
      z
        .object({ force: z.boolean().default(false) })
        .strict()
        .optional(),
    )
    .mutation(async ({ ctx, input }) => {
      const result = await triggerRound({ db: ctx.db, triggeredBy: "admin", triggeredById: ctx.user.id, force: input?.force ?? false });
      ctx.log.info(result.created ? "loop: round triggered" : "loop: trigger joined the active round", {
        actorId: ctx.user.id,
        roundId: result.round.id,
        force: input?.force ?? false,
      });
      return result;
    }),

  cancel: adminProcedure.input(z.object({ roundId }).strict()).mutation(async ({ ctx, input }) => {
    const result = await cancelRound({ db: ctx.db, roundId: input.roundId });
    ctx.log.info("loop: round cancelled", { actorId: ctx.user.id, roundId: input.roundId });
    return result;
  }),

  settings: adminProcedure.input(z.object({}).strict().optional()).query(({ ctx }) => getLoopSettings({ db: ctx.db })),

  updateSettings: adminProcedure.input(loopSettingsPatchSchema).mutation(async ({ ctx, input }) => {
    const settings = await updateLoopSettings({ db: ctx.db, patch: input });
    ctx.log.info("loop: settings changed", { actorId: ctx.user.id, changed: Object.keys(input) });
    return settings;
  }),

  versions: adminProcedure.input(z.object({}).strict().optional()).query(({ ctx }) => listVersions({ db: ctx.db })),

  promote: adminProcedure
    .input(z.object({ versionId, allowRejected: z.boolean().default(false) }).strict())
    .mutation(async ({ ctx, input }) => {
      const result = await promoteVersion({
        db: ctx.db,
        versionId: input.versionId,
        allowRejected: input.allowRejected,
        verify: verifyVersionCheckpoint,
      });
      ctx.log.info("loop: version promoted", { actorId: ctx.user.id, ...result });
      return result;
    }),

  /** Promote the previously serving version (or `toVersionId`). */
  rollback: adminProcedure.input(z.object({ toVersionId: versionId.optional() }).strict().optional()).mutation(async ({ ctx, input }) => {
    const result = await rollbackVersion({ db: ctx.db, toVersionId: input?.toVersionId, verify: verifyVersionCheckpoint });
    ctx.log.info("loop: rolled back", { actorId: ctx.user.id, ...result });
    return result;
  }),
});
