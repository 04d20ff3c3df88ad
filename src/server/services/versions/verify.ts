// Before an admin's promotion or rollback changes what is served, the checkpoint must exist,
// load, and match its recorded sha256; otherwise the promotion is refused with the reason.
import path from "node:path";
import { getEnv } from "../../env.ts";
import { CheckpointError, DirectoryCheckpointStore, type CheckpointStore } from "../../policy/checkpoint-store.ts";
import type { VersionRef } from "../../policy/load.ts";
import { loopError } from "./errors.ts";

export async function verifyVersionCheckpoint(version: VersionRef, store?: CheckpointStore): Promise<void> {
  const s = store ?? new DirectoryCheckpointStore(path.resolve(getEnv().CHECKPOINT_DIR));
  // Loaded lazily: tfjs is only needed when an admin promotes, not on every request.
  const { loadVerified } = await import("../../policy/load.ts");
  try {
    const loaded = await loadVerified(s, version);
    loaded.model.dispose();
  } catch (err) {
    if (err instanceof CheckpointError) throw loopError("CONFLICT", `refusing to serve ${version.name}: ${err.message}`);
    throw err;
  }
}
