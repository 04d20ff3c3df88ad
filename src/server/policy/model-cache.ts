// The models one thread (or process) holds, by version id. Completions lease a model for as long
// as they stream; a retired version is disposed only when its last lease ends, so a hot swap
// never cuts a completion short and never mixes two versions' weights in one completion.
import type { CheckpointStore } from "./checkpoint-store.ts";
import { type LoadedCheckpoint, loadVerified, type VersionRef } from "./load.ts";

interface Entry {
  version: VersionRef;
  loaded: LoadedCheckpoint;
  leases: number;
  retired: boolean;
}

export interface ModelLease {
  version: VersionRef;
  model: LoadedCheckpoint["model"];
  tokenizer: LoadedCheckpoint["tokenizer"];
  release(): void;
}

export class ModelCache {
  private entries = new Map<number, Entry>();
  private loading = new Map<number, Promise<void>>();

  constructor(private readonly store: CheckpointStore) {}

  has(versionId: number): boolean {
    const e = this.entries.get(versionId);
    return !!e && !e.retired;
  }

  loadedIds(): number[] {
    return [...this.entries.values()].filter((e) => !e.retired).map((e) => e.version.id);
  }

  /** Loads (and verifies) a version unless it is already here; concurrent calls share one load. */
  load(version: VersionRef): Promise<void> {
    const existing = this.entries.get(version.id);
    if (existing && existing.version.checkpointSha256 === version.checkpointSha256) {
      existing.retired = false;
      return Promise.resolve();
    }
    const inFlight = this.loading.get(version.id);
    if (inFlight) return inFlight;
    const p = loadVerified(this.store, version)
      .then((loaded) => {
        const old = this.entries.get(version.id);
        this.entries.set(version.id, { version, loaded, leases: 0, retired: false });
        if (old && old.leases === 0) old.loaded.model.dispose();
      })
      .finally(() => this.loading.delete(version.id));
    this.loading.set(version.id, p);
    return p;
  }

  acquire(versionId: number): ModelLease {
    const e = this.entries.get(versionId);
    if (!e || e.retired) throw new Error(`policy version ${versionId} is not loaded in this sampler`);
    e.leases++;
    let released = false;
    return {
      version: e.version,
      model: e.loaded.model,
      tokenizer: e.loaded.tokenizer,
      release: () => {
        if (released) return;
        released = true;
        e.leases--;
        this.collect(e);
      },
    };
  }

  retire(versionId: number): void {
    const e = this.entries.get(versionId);
    if (!e) return;
    e.retired = true;
    this.collect(e);
  }

  disposeAll(): void {
    for (const e of this.entries.values()) e.loaded.model.dispose();
    this.entries.clear();
  }

  private collect(e: Entry): void {
    if (!e.retired || e.leases > 0) return;
    if (this.entries.get(e.version.id) === e) this.entries.delete(e.version.id);
    e.loaded.model.dispose();
  }
}
