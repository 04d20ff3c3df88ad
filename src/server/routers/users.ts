import { z } from "zod";
import { createLabeler } from "../services/users/create-labeler.ts";
import { listUsers } from "../services/users/list-users.ts";
import { resetPassword } from "../services/users/reset-password.ts";
import { setUserDisabled } from "../services/users/set-user-disabled.ts";
import { adminProcedure, router } from "../trpc.ts";
import { idSchema, newPasswordSchema, usernameSchema } from "./inputs.ts";

export const usersRouter = router({
  list: adminProcedure.input(z.object({}).strict().optional()).query(({ ctx }) => listUsers({ db: ctx.db })),

  createLabeler: adminProcedure
    .input(z.object({ username: usernameSchema, password: newPasswordSchema }).strict())
    .mutation(async ({ ctx, input }) => {
      const user = await createLabeler({ db: ctx.db, username: input.username, password: input.password });
      ctx.log.info("users: labeler created", { actorId: ctx.user.id, targetId: user.id });
      return user;
    }),

  setDisabled: adminProcedure.input(z.object({ userId: idSchema, disabled: z.boolean() }).strict()).mutation(async ({ ctx, input }) => {
    const user = await setUserDisabled({ db: ctx.db, userId: input.userId, disabled: input.disabled, actorId: ctx.user.id });
    ctx.log.info(input.disabled ? "users: disabled" : "users: enabled", { actorId: ctx.user.id, targetId: user.id });
    return user;
  }),

  resetPassword: adminProcedure
    .input(z.object({ userId: idSchema, password: newPasswordSchema }).strict())
    .mutation(async ({ ctx, input }) => {
      const result = await resetPassword({ db: ctx.db, userId: input.userId, password: input.password });
      ctx.log.info("users: password reset", { actorId: ctx.user.id, targetId: input.userId });
      return result;
    }),
});
