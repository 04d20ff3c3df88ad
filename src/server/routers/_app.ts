// The root router. Each domain adds one file in this folder and one line below; build its
// procedures from publicProcedure / labelerProcedure / adminProcedure (src/server/trpc.ts) so
// test/api/authorization.test.ts covers them automatically.
import { createCallerFactory, router } from "../trpc.ts";
import { apiKeysRouter } from "./api-keys.ts";
import { arenaRouter } from "./arena.ts";
import { authRouter } from "./auth.ts";
import { contestantsRouter } from "./contestants.ts";
import { leaderboardRouter } from "./leaderboard.ts";
import { modelsRouter } from "./models.ts";
import { preferencesRouter } from "./preferences.ts";
import { promptsRouter } from "./prompts.ts";
import { qualityRouter } from "./quality.ts";
import { roundsRouter } from "./rounds.ts";
import { statsRouter } from "./stats.ts";
import { usersRouter } from "./users.ts";

export const appRouter = router({
  auth: authRouter,
  users: usersRouter,
  arena: arenaRouter,
  prompts: promptsRouter,
  stats: statsRouter,
  rounds: roundsRouter,
  leaderboard: leaderboardRouter,
  models: modelsRouter,
  apiKeys: apiKeysRouter,
  contestants: contestantsRouter,
  quality: qualityRouter,
  preferences: preferencesRouter,
});

export type AppRouter = typeof appRouter;

export const createCaller = createCallerFactory(appRouter);
