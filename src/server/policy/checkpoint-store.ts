// Where policy checkpoints live. The trainer writes a checkpoint directory locally and hands
// it to a store; every process that serves or trains from a version asks the store for a local
// directory again. A directory store is the default; an object store (S3, GCS…) implements the
// same calls by uploading / downloading into a cache directory.

import { cp, mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import { hostname } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export interface CheckpointStore {
  /** Copies the checkpoint in `localDir` into the store under `key` (e.g. "v3"); returns its URI. */
  put(localDir: string, key: string, options?: { files?: string[] }): Promise<string>;
  /** A local directory holding the checkpoint named by `uri`; throws CheckpointError when absent. */
  localPath(uri: string): Promise<string>;
  /** Deletes a checkpoint this store holds (retention, an import that failed after copying). */
  remove(uri: string): Promise<void>;
  /** True when `uri` names a checkpoint inside this store (not e.g. the shipped house directory). */
  owns(uri: string): boolean;
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

const STAGING_PREFIX = ".staging-";
const TRASH_PREFIX = ".trash-";
/** A staging directory older than this belongs to a writer that died (a put takes seconds to minutes). */
const STALE_STAGING_MS = 6 * 60 * 60 * 1000;

async function fsyncPath(p: string): Promise<void> {
  const fh = await open(p, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export class DirectoryCheckpointStore implements CheckpointStore {
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  async put(localDir: string, key: string, options: { files?: string[] } = {}): Promise<string> {
    if (!/^[A-Za-z0-9._-]+$/.test(key)) throw new CheckpointError(`invalid checkpoint key "${key}": use letters, digits, . _ -`);
    await mkdir(this.root, { recursive: true });
    const target = path.join(this.root, key);
    // Copy next to the target, then rename: readers never see a half-written checkpoint. The
    // name says which host and process write it, so a cleanup never takes a live writer's files.
    const staging = path.join(this.root, `${STAGING_PREFIX}${key}~${hostname()}~${process.pid}~${Date.now()}`);
    try {
      await mkdir(staging);
      const files = options.files ?? (await readdir(localDir, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
      for (const f of files) {
        await cp(path.join(localDir, f), path.join(staging, f));
        // A rename is durable before the data it points at unless the data is flushed first:
        // after a power cut the directory could name files of zero length.
        await fsyncPath(path.join(staging, f));
      }
      await fsyncPath(staging);
      let trash: string | null = null;
      if (
        await stat(target).then(
          () => true,
          () => false,
        )
      ) {
        trash = path.join(this.root, `${TRASH_PREFIX}${key}-${process.pid}-${Date.now()}`);
        await rename(target, trash);
      }
      await rename(staging, target);
      await fsyncPath(this.root);
      if (trash) await rm(trash, { recursive: true, force: true });
    } catch (err) {
      await rm(staging, { recursive: true, force: true }).catch(() => {});
      throw err;
    }
    return `file:${target}`;
  }

  async localPath(uri: string): Promise<string> {
    const dir = fileUriToPath(uri);
    try {
      const s = await stat(/*turbopackIgnore: true*/ dir);
      if (!s.isDirectory()) throw new CheckpointError(`checkpoint ${uri} is not a directory`);
    } catch (err) {
      if (err instanceof CheckpointError) throw err;
      throw new CheckpointError(`checkpoint ${uri} is missing (${(err as Error).message})`, { cause: err });
    }
    return dir;
  }

  owns(uri: string): boolean {
    let dir: string;
    try {
      dir = path.resolve(/*turbopackIgnore: true*/ fileUriToPath(uri));
    } catch {
      return false;
    }
    return path.dirname(dir) === this.root && !path.basename(dir).startsWith(".");
  }

  async remove(uri: string): Promise<void> {
    if (!this.owns(uri)) throw new CheckpointError(`refusing to delete ${uri}: it is not a checkpoint inside ${this.root}`);
    const dir = fileUriToPath(uri);
    // Rename first, so a crash mid-delete leaves a hidden leftover, never a half checkpoint under its name.
    const trash = path.join(this.root, `${TRASH_PREFIX}${path.basename(dir)}-${process.pid}-${Date.now()}`);
    try {
      await rename(dir, trash);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    await fsyncPath(this.root);
    await rm(trash, { recursive: true, force: true });
  }

  /**
   * Deletes what crashed writers left behind: staging copies whose process is gone (or that are
   * hours old, for writers on other hosts) and half-deleted checkpoints. Run at process start.
   */
  async cleanLeftovers(now = Date.now()): Promise<string[]> {
    let entries: string[];
    try {
      entries = await readdir(this.root);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
    const removed: string[] = [];
    for (const name of entries) {
      if (!name.startsWith(STAGING_PREFIX) && !name.startsWith(TRASH_PREFIX)) continue;
      const full = path.join(this.root, name);
      let stale = name.startsWith(TRASH_PREFIX);
      if (!stale) {
        const parts = name.split("~");
        const [host, pid] = [parts[1], Number(parts[2])];
        const age =
          now -
          (await stat(full).then(
            (s) => s.mtimeMs,
            () => now,
          ));
        stale =
          age > STALE_STAGING_MS || (host === hostname() && Number.isInteger(pid) && !pidAlive(pid)) || (parts.length < 4 && age > 60_000);
      }
      if (!stale) continue;
      await rm(full, { recursive: true, force: true });
      removed.push(name);
    }
    return removed;
  }
}

/** The store for the configured CHECKPOINT_DIR; kept as a function so tests can pass their own. */
export function directoryStore(root: string): CheckpointStore {
  return new DirectoryCheckpointStore(root);
}
