import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { loopError } from "../versions/errors.ts";

const roundSelect = {
  id: true,
  number: true,
  status: true,
  config: true,
  pairsTrain: true,
  pairsHeldout: true,
  summary: true,
  gates: true,
  usage: true,
  error: true,
  note: true,
  triggeredBy: true,
  workerId: true,
  createdAt: true,
  startedAt: true,
  finishedAt: true,
  baseVersion: { select: { id: true, name: true } },
  referenceVersion: { select: { id: true, name: true } },
  resultVersion: { select: { id: true, name: true, status: true } },
} as const;

export async function listRounds({ db, limit = 50 }: { db: PrismaClient; limit?: number }) {
  const rounds = await db.trainingRound.findMany({ orderBy: { number: "desc" }, take: limit, select: roundSelect });
  // The latest step of each round, so the list can show live progress without the full series.
  const ids = rounds.map((r) => r.id);
  const latest = ids.length
    ? await db.$queryRaw<{ roundId: string; step: number; values: unknown }[]>`
        SELECT DISTINCT ON ("roundId") "roundId", step, "values" FROM "RoundMetric"
         WHERE "roundId" = ANY(${ids}) ORDER BY "roundId", step DESC`
    : [];
  const byRound = new Map(latest.map((m) => [m.roundId, { step: m.step, values: m.values }]));
  return rounds.map((r) => ({ ...r, lastMetric: byRound.get(r.id) ?? null }));
}

/** One round with its metric series from `afterStep` on (the admin page polls with the last step it has). */
export async function getRound({ db, roundId, afterStep = -1 }: { db: PrismaClient; roundId: string; afterStep?: number }) {
  const round = await db.trainingRound.findUnique({ where: { id: roundId }, select: roundSelect });
  if (!round) throw loopError("NOT_FOUND", `round ${roundId} does not exist`);
  const metrics = await db.roundMetric.findMany({
    where: { roundId, step: { gt: afterStep } },
    orderBy: { step: "asc" },
    select: { step: true, values: true },
  });
  return { ...round, metrics };
}
