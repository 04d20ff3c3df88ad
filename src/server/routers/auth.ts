import { z } from "zod";
import { clearedSessionCookie, sessionCookie } from "../auth/session.ts";
import { signIn } from "../services/auth/sign-in.ts";
import { signOut } from "../services/auth/sign-out.ts";
import { publicProcedure, router } from "../trpc.ts";
import { text } from "./inputs.ts";

export const authRouter = router({
  signIn: publicProcedure
    .input(
      z.object({
        // Looser than usernameSchema: the seeded admin name comes from the environment.
        username: text({ max: 64 }),
        password: text({ max: 200, trim: false }),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const result = await signIn({
        db: ctx.db,
        username: input.username,
        password: input.password,
        ttlHours: ctx.sessionTtlHours,
        clientAddress: ctx.clientAddress,
      });
      // A browser that was signed in as someone else gets a fresh session, not two.
      if (ctx.sessionToken) await signOut({ db: ctx.db, token: ctx.sessionToken });
      ctx.resHeaders.append("set-cookie", sessionCookie(result.token, result.expiresAt, ctx.secureCookies));
      ctx.log.info("auth: signed in", { userId: result.user.id });
      return { user: result.user };
    }),

  signOut: publicProcedure.input(z.object({}).strict().optional()).mutation(async ({ ctx }) => {
    await signOut({ db: ctx.db, token: ctx.sessionToken });
    ctx.resHeaders.append("set-cookie", clearedSessionCookie(ctx.secureCookies));
    return { ok: true as const };
  }),

  me: publicProcedure.input(z.object({}).strict().optional()).query(({ ctx }) => ({ user: ctx.user })),
});
