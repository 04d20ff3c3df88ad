// Loading a policy version's weights: fetch from the store, load, and refuse anything whose
// sha256 differs from what the database recorded. Callers keep serving the previous version
// when this throws.
import { loadCheckpoint } from "../../lm/index.ts";
import { CheckpointError, type CheckpointStore } from "./checkpoint-store.ts";

export interface VersionRef {
  id: number;
  name: string;
  checkpointUri: string;
  checkpointSha256: string;
}

export type LoadedCheckpoint = Awaited<ReturnType<typeof loadCheckpoint>>;

export async function loadVerified(store: CheckpointStore, version: VersionRef): Promise<LoadedCheckpoint> {
  const dir = await store.localPath(version.checkpointUri);
  let loaded: LoadedCheckpoint;
  try {
    loaded = await loadCheckpoint(dir);
  } catch (err) {
    throw new CheckpointError(`checkpoint of ${version.name} (${version.checkpointUri}) cannot be loaded: ${(err as Error).message}`, { cause: err });
  }
  if (loaded.sha256 !== version.checkpointSha256) {
    loaded.model.dispose();
    throw new CheckpointError(
      `checkpoint of ${version.name} is corrupt: sha256 ${loaded.sha256.slice(0, 12)}… does not match the recorded ${version.checkpointSha256.slice(0, 12)}…`,
    );
  }
  return loaded;
}
