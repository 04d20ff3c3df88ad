// The labeler's arena (next battle, vote, skip, own stats) and the admin's arena settings.
// Completions stream over SSE from /api/battles/<id>/stream, not through tRPC.
import { z } from "zod";
import { arenaSettingsPatchSchema, getArenaSettings, servingLengthUnit, updateArenaSettings } from "../services/arena-settings/index.ts";
import { nextBattle } from "../services/battles/assign.ts";
import { castVote, skipBattle } from "../services/battles/vote.ts";
import { MAX_PROMPT_CHARS } from "../services/prompts/parse-import.ts";
import { myStats } from "../services/stats/labelers.ts";
import { adminProcedure, labelerProcedure, router } from "../trpc.ts";
import { idSchema, text } from "./inputs.ts";

export const arenaRouter = router({
  /** The labeler's open battle not in `excludeBattleIds`, or a newly assigned one. */
  next: labelerProcedure
    .input(
      z
        .object({
          excludeBattleIds: z.array(idSchema).max(20, "At most 20 battle ids").default([]),
          promptText: text({ max: MAX_PROMPT_CHARS }).optional(),
        })
        .strict(),
    )
    .mutation(async ({ ctx, input }) => {
      const result = await nextBattle({
        db: ctx.db,
        labelerId: ctx.user.id,
        excludeBattleIds: input.excludeBattleIds,
        promptText: input.promptText,
      });
      if (result.status !== "battle") return result;
      // `ready` (completions already exist) would tell an overlap copy from a fresh battle; the
      // page learns everything from the battle's stream, which looks the same for both.
      const { ready: _ready, ...battle } = result.battle;
      return { status: result.status, battle };
    }),

  vote: labelerProcedure
    .input(
      z
        .object({
          battleId: idSchema,
          choice: z.enum(["A", "B", "TIE", "BOTH_BAD"], { message: "Choice must be A, B, TIE or BOTH_BAD" }),
          idempotencyKey: z
            .string()
            .min(8, "At least 8 characters")
            .max(100, "At most 100 characters")
            .regex(/^[A-Za-z0-9_-]+$/, "Only letters, digits, _ and -"),
          msToVote: z.number().int("Must be whole milliseconds").min(0, "Must be ≥ 0").max(86_400_000, "Must be at most a day"),
        })
        .strict(),
    )
    .mutation(({ ctx, input }) => castVote({ db: ctx.db, labelerId: ctx.user.id, ...input })),

  skip: labelerProcedure
    .input(z.object({ battleId: idSchema }).strict())
    .mutation(({ ctx, input }) => skipBattle({ db: ctx.db, labelerId: ctx.user.id, battleId: input.battleId })),

  myStats: labelerProcedure.input(z.object({}).strict().optional()).query(({ ctx }) => myStats({ db: ctx.db, labelerId: ctx.user.id })),

  /** Whether labelers may type prompts (the arena shows the box only then), and the instructions. */
  options: labelerProcedure.input(z.object({}).strict().optional()).query(async ({ ctx }) => {
    const { arena } = await getArenaSettings({ db: ctx.db });
    return { allowLabelerPrompts: arena.allowLabelerPrompts, instructions: arena.instructions };
  }),

  /** What "max new tokens" counts for the serving model (bytes or tokens), for the settings form. */
  lengthUnit: adminProcedure.input(z.object({}).strict().optional()).query(({ ctx }) => servingLengthUnit({ db: ctx.db })),

  settings: adminProcedure.input(z.object({}).strict().optional()).query(({ ctx }) => getArenaSettings({ db: ctx.db })),

  updateSettings: adminProcedure.input(arenaSettingsPatchSchema).mutation(async ({ ctx, input }) => {
    const settings = await updateArenaSettings({ db: ctx.db, patch: input });
    ctx.log.info("arena: settings changed", { actorId: ctx.user.id, changed: Object.keys(input) });
    return settings;
  }),
});
