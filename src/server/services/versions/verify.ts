// Before an admin's promotion or rollback changes what is served, the checkpoint must exist and
// its files must be the ones recorded at registration (config.json, weights and tokenizer:
// see policy/digest.ts); otherwise the promotion is refused with the reason. Every checkpoint
// was loaded and run when it was registered (an import's validation, a round's training), so
// byte-identical files load again; the web process therefore never holds a copy of the model
// just to promote it (a 135 M model is 0.5 GB in float32). The sampler threads load it next,
// and a load that still fails there leaves the previous version serving.
import path from "node:path";
import { getEnv } from "../../env.ts";
import { CheckpointError, type CheckpointStore, DirectoryCheckpointStore } from "../../policy/checkpoint-store.ts";
import { type VersionRef, verifyDigest } from "../../policy/verify-digest.ts";
import { loopError } from "./errors.ts";

export async function verifyVersionCheckpoint(version: VersionRef, store?: CheckpointStore): Promise<void> {
  const s = store ?? new DirectoryCheckpointStore(path.resolve(getEnv().CHECKPOINT_DIR));
  try {
    await verifyDigest(await s.localPath(version.checkpointUri), version);
  } catch (err) {
    if (err instanceof CheckpointError) throw loopError("CONFLICT", `refusing to serve ${version.name}: ${err.message}`);
    throw err;
  }
}
