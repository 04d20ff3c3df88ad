// Set-up shared by the arena tests: a fresh database with settings, a tiny real GPT served as
// v0, and a real sampler (worker threads) on it.
import path from "node:path";
import type { PrismaClient } from "../../src/generated/prisma/client.ts";
import { createSampler, type Sampler } from "../../src/server/sampler/index.ts";
import { DEFAULT_SETTINGS } from "../../src/server/seed.ts";
import { type BattleEvent, watchBattle } from "../../src/server/services/battles/generate.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { registerTinyHouse } from "../loop/fixtures.ts";

export interface ArenaWorld {
  tdb: TestDatabase;
  db: PrismaClient;
  sampler: Sampler;
  v0: { id: number; name: string };
  close(): Promise<void>;
}

export async function createArenaWorld(): Promise<ArenaWorld> {
  const tdb = await createTestDatabase();
  const db = tdb.db;
  await db.setting.createMany({ data: Object.entries(DEFAULT_SETTINGS).map(([key, value]) => ({ key, value: value as object })) });
  // Short completions keep the tests fast; they are still sampled token by token.
  await db.setting.update({ where: { key: "sampling" }, data: { value: { temperature: 1, topP: 1, topK: 0, maxNewTokens: 6 } } });
  let sampler: Sampler;
  let v0: { id: number; name: string };
  try {
    v0 = await registerTinyHouse(db);
    sampler = await createSampler({
      databaseUrl: tdb.url,
      checkpointDir: path.resolve(".data/checkpoints"),
      backend: "cpu",
      threads: 1,
      pollIntervalMs: 500,
    });
    for (let i = 0; i < 100 && !sampler.registry.current(); i++) await new Promise((r) => setTimeout(r, 50));
    if (!sampler.registry.current()) throw new Error("the sampler did not load the tiny v0 within 5 s");
  } catch (err) {
    // The test file's afterAll never sees a world that failed to start: drop its database here.
    await tdb.drop();
    throw err;
  }
  return {
    tdb,
    db,
    sampler,
    v0,
    async close() {
      await sampler.close();
      await tdb.drop();
    },
  };
}

export async function addPrompts(db: PrismaClient, texts: string[], overlapTarget = 1) {
  await db.prompt.createMany({ data: texts.map((text) => ({ text, source: "test", overlapTarget })) });
}

export async function addLabeler(db: PrismaClient, username: string) {
  return db.user.create({ data: { username, passwordHash: "not-used" }, select: { id: true } });
}

/** Streams a battle to the end, as the browser does; returns the events seen. */
export async function streamToEnd(world: ArenaWorld, battleId: string, labelerId: string): Promise<BattleEvent[]> {
  const events: BattleEvent[] = [];
  let resolveReady!: () => void;
  const ready = new Promise<void>((r) => (resolveReady = r));
  const w = await watchBattle({
    db: world.db,
    sampler: async () => world.sampler,
    battleId,
    labelerId,
    onEvent: (e) => {
      events.push(e);
      if (e.type === "ready" || e.type === "error") resolveReady();
    },
  });
  await Promise.race([ready, w.finished.then(() => new Promise((r) => setTimeout(r, 10)))]);
  w.stop();
  if (events.at(-1)?.type !== "ready") throw new Error(`battle ${battleId} did not become ready: ${JSON.stringify(events)}`);
  return events;
}
