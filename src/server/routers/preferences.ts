// Imported preference data (issue 17, data in): upload a TRL or Anthropic HH file, list the
// imports, and the pairs rounds could use beside the votes (imported and API preferences).
import path from "node:path";
import { z } from "zod";
import { getEnv } from "../env.ts";
import { DirectoryCheckpointStore } from "../policy/checkpoint-store.ts";
import { importPreferences, listPreferenceImports } from "../services/preference-import/import.ts";
import { PREFERENCE_FORMATS } from "../services/preference-import/parse.ts";
import { countOfflinePairs } from "../services/rounds/offline-pairs.ts";
import { adminProcedure, router } from "../trpc.ts";

/** The console's limit, as for prompt files; bigger datasets go through `npm run cli -- import-preferences`. */
const MAX_IMPORT_CHARS = 2_000_000;

export const preferencesRouter = router({
  list: adminProcedure.input(z.object({}).strict().optional()).query(async ({ ctx }) => ({
    imports: await listPreferenceImports({ db: ctx.db }),
    trainable: await countOfflinePairs(ctx.db),
  })),

  import: adminProcedure
    .input(
      z
        .object({
          content: z
            .string()
            .min(1, "The file is empty")
            .max(
              MAX_IMPORT_CHARS,
              `At most ${MAX_IMPORT_CHARS} characters here; import bigger files with npm run cli -- import-preferences`,
            ),
          filename: z.string().trim().max(200, "At most 200 characters").optional(),
          format: z.enum(PREFERENCE_FORMATS, { message: "Format must be trl or hh" }),
        })
        .strict(),
    )
    .mutation(async ({ ctx, input }) => {
      const report = await importPreferences({
        db: ctx.db,
        store: new DirectoryCheckpointStore(path.resolve(getEnv().CHECKPOINT_DIR)),
        ...input,
        createdById: ctx.user.id,
      });
      ctx.log.info("preferences: import", { actorId: ctx.user.id, imported: report.imported, rejected: report.rejectedTotal });
      return report;
    }),
});
