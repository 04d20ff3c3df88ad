// Where policy checkpoints live. The trainer writes a checkpoint directory locally and hands
// it to a store; every process that serves or trains from a version asks the store for a local
// directory again. A directory store is the default; an object store (S3, GCS…) implements the
// same two calls by uploading / downloading into a cache directory.
import { cp, mkdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

export interface CheckpointStore {
  /** Copies the checkpoint in `localDir` into the store under `key` (e.g. "v3"); returns its URI. */
  put(localDir: string, key: string): Promise<string>;
  /** A local directory holding the checkpoint named by `uri`; throws CheckpointError when absent. */
  localPath(uri: string): Promise<string>;
}

export class CheckpointError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CheckpointError";
  }
}

/** "file:<absolute dir>" (what the seed writes) or a file:// URL. */
export function fileUriToPath(uri: string): string {
  if (uri.startsWith("file://")) return fileURLToPath(uri);
  if (uri.startsWith("file:")) return uri.slice("file:".length);
  throw new CheckpointError(`unsupported checkpoint URI "${uri}": expected file:<absolute directory>`);
}

export class DirectoryCheckpointStore implements CheckpointStore {
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  async put(localDir: string, key: string): Promise<string> {
    if (!/^[A-Za-z0-9._-]+$/.test(key)) throw new CheckpointError(`invalid checkpoint key "${key}": use letters, digits, . _ -`);
    await mkdir(this.root, { recursive: true });
    const target = path.join(this.root, key);
    // Copy next to the target, then rename: readers never see a half-written checkpoint.
    const staging = path.join(this.root, `.staging-${key}-${process.pid}-${Date.now()}`);
    await cp(localDir, staging, { recursive: true });
    await rm(target, { recursive: true, force: true });
    await rename(staging, target);
    return `file:${target}`;
  }

  async localPath(uri: string): Promise<string> {
    const dir = fileUriToPath(uri);
    try {
      const s = await stat(dir);
      if (!s.isDirectory()) throw new CheckpointError(`checkpoint ${uri} is not a directory`);
    } catch (err) {
      if (err instanceof CheckpointError) throw err;
      throw new CheckpointError(`checkpoint ${uri} is missing (${(err as Error).message})`, { cause: err });
    }
    return dir;
  }
}

/** The store for the configured CHECKPOINT_DIR; kept as a function so tests can pass their own. */
export function directoryStore(root: string): CheckpointStore {
  return new DirectoryCheckpointStore(root);
}
