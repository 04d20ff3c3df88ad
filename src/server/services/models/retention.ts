// Checkpoint retention, so trained versions cannot fill the disk: every round writes a
// checkpoint whatever its verdict. Kept: the serving version and its whole lineage (reference
// and KL need the root), every version that ever served (leaderboard battles sample them and
// rollback returns to them), house and imported models, the base and reference of any queued
// or running round, the newest rejected version (to inspect or override the round that just
// failed), and the last `keepLast` versions. Everything else (rejected results, candidates
// never served) has its files deleted; its row stays, marked pruned, for ratings and history.
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import type { CheckpointStore } from "../../policy/checkpoint-store.ts";

export interface PruneResult {
  pruned: string[];
  kept: number;
}

export async function pruneCheckpoints(o: {
  db: PrismaClient;
  store: CheckpointStore;
  keepLast: number;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}): Promise<PruneResult> {
  const versions = await o.db.policyVersion.findMany({
    orderBy: { id: "desc" },
    select: {
      id: true,
      name: true,
      status: true,
      parentId: true,
      checkpointUri: true,
      promotedAt: true,
      source: true,
      checkpointPrunedAt: true,
    },
  });
  const rounds = await o.db.trainingRound.findMany({
    where: { status: { in: ["QUEUED", "RUNNING"] } },
    select: { baseVersionId: true, referenceVersionId: true },
  });
  const byId = new Map(versions.map((v) => [v.id, v]));
  const keep = new Set<number>();
  const keepLineage = (id: number | null) => {
    for (let v = id === null ? undefined : byId.get(id); v && !keep.has(v.id); v = v.parentId === null ? undefined : byId.get(v.parentId))
      keep.add(v.id);
  };
  for (const v of versions) {
    if (v.status === "SERVING" || v.promotedAt !== null) keepLineage(v.id);
    if (v.source !== "TRAINED") keep.add(v.id);
  }
  for (const r of rounds) {
    keepLineage(r.baseVersionId);
    keepLineage(r.referenceVersionId);
  }
  const newestRejected = versions.find((v) => v.status === "REJECTED" && v.checkpointPrunedAt === null && o.store.owns(v.checkpointUri));
  if (newestRejected) keep.add(newestRejected.id);
  for (const v of versions.filter((v) => v.status !== "REJECTED").slice(0, Math.max(0, o.keepLast))) keep.add(v.id);

  const pruned: string[] = [];
  for (const v of versions) {
    if (keep.has(v.id) || v.checkpointPrunedAt !== null || !o.store.owns(v.checkpointUri)) continue;
    // Files first: a crash in between leaves a row whose files are missing, which loading reports clearly.
    await o.store.remove(v.checkpointUri);
    await o.db.policyVersion.update({ where: { id: v.id }, data: { checkpointPrunedAt: new Date() } });
    pruned.push(v.name);
  }
  if (pruned.length > 0) o.log?.("pruned checkpoints by the retention policy", { pruned, keepLast: o.keepLast });
  return { pruned, kept: keep.size };
}
