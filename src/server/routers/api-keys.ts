import { z } from "zod";
import {
  apiKeyNameSchema,
  apiKeyScopesSchema,
  createApiKey,
  listApiKeys,
  rateLimitSchema,
  revokeApiKey,
} from "../services/api-keys/keys.ts";
import { adminProcedure, router } from "../trpc.ts";

export const apiKeysRouter = router({
  list: adminProcedure.input(z.object({}).strict().optional()).query(({ ctx }) => listApiKeys({ db: ctx.db })),

  /** The key itself is in this answer only; the database keeps its sha256. */
  create: adminProcedure
    .input(z.object({ name: apiKeyNameSchema, scopes: apiKeyScopesSchema, rateLimitPerMinute: rateLimitSchema.optional() }).strict())
    .mutation(async ({ ctx, input }) => {
      const created = await createApiKey({
        db: ctx.db,
        name: input.name,
        scopes: input.scopes,
        rateLimitPerMinute: input.rateLimitPerMinute,
        createdById: ctx.user.id,
      });
      ctx.log.info("api-keys: created", { actorId: ctx.user.id, apiKeyId: created.apiKey.id, scopes: created.apiKey.scopes });
      return created;
    }),

  revoke: adminProcedure.input(z.object({ id: z.string().min(1).max(64) }).strict()).mutation(async ({ ctx, input }) => {
    const key = await revokeApiKey({ db: ctx.db, id: input.id });
    ctx.log.info("api-keys: revoked", { actorId: ctx.user.id, apiKeyId: key.id });
    return key;
  }),
});
