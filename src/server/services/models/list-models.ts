// The Models page's table: every version with where it came from, its architecture and size.
// Rounds' results record neither; they are their lineage root's, so they are read from there.
import type { PrismaClient } from "../../../generated/prisma/client.ts";

export interface ModelRow {
  id: number;
  name: string;
  displayName: string | null;
  source: "HOUSE" | "IMPORTED" | "TRAINED";
  architecture: string | null;
  parameterCount: number | null;
  status: "CANDIDATE" | "SERVING" | "RETIRED" | "REJECTED";
  parentName: string | null;
  rootName: string;
  checkpointSha256: string;
  checkpointPruned: boolean;
  sourcePath: string | null;
  createdAt: Date;
  promotedAt: Date | null;
}

export async function listModels({ db }: { db: PrismaClient }): Promise<ModelRow[]> {
  const rows = await db.policyVersion.findMany({
    orderBy: { id: "desc" },
    select: {
      id: true,
      name: true,
      displayName: true,
      source: true,
      architecture: true,
      parameterCount: true,
      status: true,
      parentId: true,
      checkpointSha256: true,
      checkpointPrunedAt: true,
      sourcePath: true,
      createdAt: true,
      promotedAt: true,
    },
  });
  const byId = new Map(rows.map((r) => [r.id, r]));
  const root = (id: number) => {
    let r = byId.get(id)!;
    for (let hops = 0; r.parentId !== null && byId.has(r.parentId) && hops < rows.length; hops++) r = byId.get(r.parentId)!;
    return r;
  };
  return rows.map((r) => {
    const base = root(r.id);
    const params = r.parameterCount ?? base.parameterCount;
    return {
      id: r.id,
      name: r.name,
      displayName: r.displayName ?? base.displayName,
      source: r.source,
      architecture: r.architecture ?? base.architecture,
      parameterCount: params === null ? null : Number(params),
      status: r.status,
      parentName: r.parentId === null ? null : (byId.get(r.parentId)?.name ?? null),
      rootName: base.name,
      checkpointSha256: r.checkpointSha256,
      checkpointPruned: r.checkpointPrunedAt !== null,
      sourcePath: r.sourcePath,
      createdAt: r.createdAt,
      promotedAt: r.promotedAt,
    };
  });
}
