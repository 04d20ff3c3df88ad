// The admin's prompt pool: import (JSONL / CSV / plain text with a report), list, disable.
import { z } from "zod";
import { importPrompts, listPrompts, setPromptEnabled } from "../services/prompts/manage.ts";
import { adminProcedure, router } from "../trpc.ts";
import { idSchema } from "./inputs.ts";

/** 2 MB of text is ~10k prompts; bigger pools should be split into several files. */
const MAX_IMPORT_CHARS = 2_000_000;

export const promptsRouter = router({
  list: adminProcedure
    .input(
      z
        .object({
          search: z.string().trim().max(200, "At most 200 characters").optional(),
          status: z.enum(["all", "enabled", "disabled"]).default("all"),
          page: z.number().int().min(0).max(100_000).default(0),
          pageSize: z.number().int().min(1).max(200).default(50),
        })
        .strict(),
    )
    .query(({ ctx, input }) => listPrompts({ db: ctx.db, ...input, search: input.search || undefined })),

  import: adminProcedure
    .input(
      z
        .object({
          content: z.string().min(1, "The file is empty").max(MAX_IMPORT_CHARS, `At most ${MAX_IMPORT_CHARS} characters; split the file`),
          filename: z.string().trim().max(200, "At most 200 characters").optional(),
          format: z.enum(["auto", "jsonl", "csv", "text"]).default("auto"),
          overlapTarget: z.number().int("Must be a whole number").min(1, "Must be ≥ 1").max(100, "Must be ≤ 100").optional(),
        })
        .strict(),
    )
    .mutation(async ({ ctx, input }) => {
      const report = await importPrompts({ db: ctx.db, ...input });
      ctx.log.info("prompts: imported", { actorId: ctx.user.id, added: report.added, rejected: report.rejectedTotal });
      return report;
    }),

  setEnabled: adminProcedure
    .input(z.object({ promptId: idSchema, enabled: z.boolean() }).strict())
    .mutation(({ ctx, input }) => setPromptEnabled({ db: ctx.db, ...input })),
});
