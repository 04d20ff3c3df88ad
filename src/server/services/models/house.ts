// HOUSE_MODEL_DIR goes through the same checks as an import. The first start copies the house
// model into the checkpoint store and serves it as v0. Later starts compare the directory
// with what was registered from it: when its files changed (a new house model was pulled) or
// the variable points elsewhere, the new model is registered as another HOUSE version
// (CANDIDATE, its own lineage root) and the log says so; nothing is served differently until
// an admin serves it, and a version's files never change under its recorded sha256.
import path from "node:path";
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import type { CheckpointStore } from "../../policy/checkpoint-store.ts";
import { fileUriToPath } from "../../policy/checkpoint-store.ts";
import { checkpointDigest, legacyWeightsDigest } from "../../policy/digest.ts";
import { DuplicateModelError, registerModelDir } from "./register.ts";

export type HouseSync =
  | { action: "unchanged"; versionName: string }
  | { action: "registered"; versionId: number; versionName: string; reason: string }
  | { action: "none"; reason: string };

/** For a database that already has versions: registers the house directory again if it is not the registered house model. */
export async function syncHouseModel(o: {
  db: PrismaClient;
  store: CheckpointStore;
  dir: string;
  log: (msg: string, fields?: Record<string, unknown>) => void;
}): Promise<HouseSync> {
  const dir = path.resolve(o.dir);
  const digest = await checkpointDigest(dir).catch(() => null);
  if (!digest) return { action: "none", reason: `no house model at ${dir}` };
  const houses = await o.db.policyVersion.findMany({
    where: { source: "HOUSE" },
    orderBy: { id: "desc" },
    select: { id: true, name: true, checkpointUri: true, checkpointSha256: true, checkpointPrunedAt: true },
  });
  if (houses.length === 0)
    return { action: "none", reason: "no house version registered; policy versions already exist, so the house model is not added" };
  const legacy = await legacyWeightsDigest(dir);
  for (const h of houses) {
    if (h.checkpointSha256 === digest) return { action: "unchanged", versionName: h.name };
    // Registered before digests covered config.json: same directory, same weights.
    if (h.checkpointSha256 === legacy && safePath(h.checkpointUri) === dir) return { action: "unchanged", versionName: h.name };
  }
  const previous = houses[0]!;
  try {
    const { version } = await registerModelDir({
      db: o.db,
      store: o.store,
      dir,
      displayName: "house model",
      source: "HOUSE",
      validate: { inWorker: true },
      notes: `HOUSE_MODEL_DIR ${dir} (changed after ${previous.name})`,
    });
    const reason = `the house model at ${dir} is not the one registered as ${previous.name}; registered it as ${version.name} (CANDIDATE). Serve it from Admin → Models when you want it`;
    o.log("house model changed", { dir, previous: previous.name, registered: version.name, sha256: digest });
    return { action: "registered", versionId: version.id, versionName: version.name, reason };
  } catch (err) {
    if (err instanceof DuplicateModelError) return { action: "unchanged", versionName: err.existing.name };
    const reason = `HOUSE_MODEL_DIR ${dir} changed since ${previous.name} was registered, but it cannot be registered: ${(err as Error).message}`;
    o.log("house model changed but was refused", { dir, previous: previous.name, error: reason });
    return { action: "none", reason };
  }
}

function safePath(uri: string): string | null {
  try {
    return path.resolve(fileUriToPath(uri));
  } catch {
    return null;
  }
}
