// Checking a version's files against its recorded digest, without loading the model (no tfjs:
// web processes import this to vet a promotion).
import { createLogger } from "../log.ts";
import { CheckpointError } from "./checkpoint-store.ts";
import { checkpointDigest, legacyWeightsDigest } from "./digest.ts";

export interface VersionRef {
  id: number;
  name: string;
  checkpointUri: string;
  checkpointSha256: string;
}

const log = createLogger({ component: "checkpoint-load" });
const warnedLegacy = new Set<number>();

/** Throws CheckpointError unless the files in `dir` are the ones `version` recorded. */
export async function verifyDigest(dir: string, version: VersionRef): Promise<void> {
  let digest: string;
  try {
    digest = await checkpointDigest(dir);
  } catch (err) {
    throw new CheckpointError(`checkpoint of ${version.name} (${version.checkpointUri}) cannot be read: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (digest === version.checkpointSha256) return;
  if ((await legacyWeightsDigest(dir)) === version.checkpointSha256) {
    if (!warnedLegacy.has(version.id)) {
      warnedLegacy.add(version.id);
      log.warn("version was registered before config.json was covered by its sha256; only its weights are verified", {
        version: version.name,
      });
    }
    return;
  }
  throw new CheckpointError(
    `checkpoint of ${version.name} is corrupt or was changed after registration: sha256 ${digest.slice(0, 12)}… (config.json, weights and tokenizer) does not match the recorded ${version.checkpointSha256.slice(0, 12)}…`,
  );
}
