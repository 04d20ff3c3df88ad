import { z } from "zod";
import {
  addContestant,
  checkContestant,
  contestantInputSchema,
  listContestants,
  removeContestant,
  setContestantEnabled,
} from "../services/contestants/manage.ts";
import { adminProcedure, router } from "../trpc.ts";

const idInput = z.object({ id: z.number().int().positive("id must be a contestant id") }).strict();

export const contestantsRouter = router({
  list: adminProcedure.input(z.object({}).strict().optional()).query(({ ctx }) => listContestants({ db: ctx.db })),

  /** The API key (optional) is encrypted before it is stored and never sent back. */
  add: adminProcedure.input(contestantInputSchema).mutation(async ({ ctx, input }) => {
    const created = await addContestant({ db: ctx.db, input });
    ctx.log.info("contestants: added", { actorId: ctx.user.id, contestantId: created.id, baseUrl: created.baseUrl });
    return created;
  }),

  setEnabled: adminProcedure.input(idInput.extend({ enabled: z.boolean() }).strict()).mutation(async ({ ctx, input }) => {
    const c = await setContestantEnabled({ db: ctx.db, id: input.id, enabled: input.enabled });
    ctx.log.info("contestants: enabled changed", { actorId: ctx.user.id, contestantId: c.id, enabled: c.enabled });
    return c;
  }),

  /** GET <baseUrl>/models now, recorded as the contestant's status. */
  check: adminProcedure.input(idInput).mutation(({ ctx, input }) => checkContestant({ db: ctx.db, id: input.id })),

  remove: adminProcedure.input(idInput).mutation(async ({ ctx, input }) => {
    const removed = await removeContestant({ db: ctx.db, id: input.id });
    ctx.log.info("contestants: removed", { actorId: ctx.user.id, contestantId: removed.id });
    return removed;
  }),
});
