// Admin API for bringing in models: list every version with its source, architecture and
// size; import a Hugging Face directory that is on the server; serve a version now. Thin:
// each procedure validates its input and calls a service in services/models.
import path from "node:path";
import { z } from "zod";
import { getEnv } from "../env.ts";
import { DirectoryCheckpointStore } from "../policy/checkpoint-store.ts";
import { importModel, serveModel } from "../services/models/import-model.ts";
import { listModels } from "../services/models/list-models.ts";
import { adminProcedure, router } from "../trpc.ts";
import { text } from "./inputs.ts";

const store = () => new DirectoryCheckpointStore(path.resolve(getEnv().CHECKPOINT_DIR));

export const modelsRouter = router({
  list: adminProcedure.input(z.object({}).strict().optional()).query(({ ctx }) => listModels({ db: ctx.db })),

  import: adminProcedure
    .input(
      z
        .object({
          dir: text({ max: 4096 }).refine(
            (d) => path.isAbsolute(d),
            "Give the directory's absolute path on the server, e.g. /srv/models/SmolLM2-135M-Instruct",
          ),
          name: text({ max: 100 }).refine((n) => !/[\u0000-\u001f\u007f]/.test(n), "Must not contain control characters"),
          serve: z.boolean().default(false),
        })
        .strict(),
    )
    .mutation(async ({ ctx, input }) => {
      const result = await importModel({
        db: ctx.db,
        store: store(),
        dir: input.dir,
        name: input.name,
        serve: input.serve,
        validate: { inWorker: true, backend: getEnv().TF_BACKEND },
      });
      ctx.log.info("models: imported", {
        actorId: ctx.user.id,
        version: result.version.name,
        dir: result.report.dir,
        served: result.served,
        serveError: result.serveError,
      });
      return { ...result, report: { ...result.report } };
    }),

  serve: adminProcedure.input(z.object({ versionId: z.number().int().positive() }).strict()).mutation(async ({ ctx, input }) => {
    const result = await serveModel({ db: ctx.db, store: store(), versionId: input.versionId });
    ctx.log.info("models: version served", { actorId: ctx.user.id, ...result });
    return result;
  }),
});
