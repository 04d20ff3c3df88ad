// The process's /v1 handlers on the app's database and sampler (one set, shared by the routes).
import { db } from "../../db/client.ts";
import { getSampler } from "../../sampler/index.ts";
import { createV1Handlers } from "./handlers.ts";

const globalForV1 = globalThis as unknown as { __dpoArenaV1?: ReturnType<typeof createV1Handlers> };

export function v1Handlers(): ReturnType<typeof createV1Handlers> {
  globalForV1.__dpoArenaV1 ??= createV1Handlers({ db: () => db, sampler: getSampler });
  return globalForV1.__dpoArenaV1;
}
