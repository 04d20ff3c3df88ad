// Loading a policy version's weights: fetch from the store, check the files against the
// recorded digest (weights, config.json and tokenizer: see digest.ts), then load. Callers keep
// serving the previous version when this throws.
import { loadCheckpoint } from "../../lm/index.ts";
import { CheckpointError, type CheckpointStore } from "./checkpoint-store.ts";
import { type VersionRef, verifyDigest } from "./verify-digest.ts";

export { type VersionRef, verifyDigest };

export type LoadedCheckpoint = Awaited<ReturnType<typeof loadCheckpoint>>;

export async function loadVerified(store: CheckpointStore, version: VersionRef): Promise<LoadedCheckpoint> {
  const dir = await store.localPath(version.checkpointUri);
  await verifyDigest(dir, version);
  try {
    return await loadCheckpoint(dir);
  } catch (err) {
    throw new CheckpointError(`checkpoint of ${version.name} (${version.checkpointUri}) cannot be loaded: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
