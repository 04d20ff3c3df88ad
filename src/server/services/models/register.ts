// Registering a model directory as a new lineage root (parent = null): validate it, copy its
// model files into the checkpoint store under their digest, check the copy is what was
// validated, then insert the version. All-or-nothing: any failure removes the copy, and
// nothing is inserted, so neither the store nor what is served changes.
import { readFile, statfs } from "node:fs/promises";
import path from "node:path";
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { isUniqueViolation } from "../../db/unique-violation.ts";
import { type CheckpointStore, DirectoryCheckpointStore } from "../../policy/checkpoint-store.ts";
import { checkpointDigest } from "../../policy/digest.ts";
import { nextVersionName } from "../versions/list.ts";
import { type ModelReport, ModelValidationError, type ValidateOptions, validateModelDir } from "./validate.ts";

export interface RegisterOptions {
  db: PrismaClient;
  store: CheckpointStore;
  dir: string;
  displayName: string;
  source: "HOUSE" | "IMPORTED";
  validate?: ValidateOptions;
  notes?: string;
}

export interface RegisteredModel {
  version: { id: number; name: string; displayName: string | null; checkpointUri: string; checkpointSha256: string; status: string };
  report: ModelReport;
}

/** A version with these files already exists (and still has them). */
export class DuplicateModelError extends Error {
  constructor(readonly existing: { id: number; name: string; displayName: string | null }) {
    super(
      `this model is already registered as ${existing.name}${existing.displayName ? ` (${existing.displayName})` : ""}: same config, weights and tokenizer`,
    );
    this.name = "DuplicateModelError";
  }
}

export interface PreparedModel {
  report: ModelReport;
  digest: string;
  config: object;
}

/** Validates `dir` and computes its digest; refuses a model that is already registered. */
export async function prepareModelDir(o: {
  db: PrismaClient;
  store: CheckpointStore;
  dir: string;
  validate?: ValidateOptions;
}): Promise<PreparedModel> {
  // Digest first, compare with the copy last: a directory changed while we validated is refused.
  const report = await validateModelDir(o.dir, o.validate);
  const digest = await checkpointDigest(report.dir);
  const existing = await o.db.policyVersion.findFirst({
    where: { checkpointSha256: digest, checkpointPrunedAt: null },
    select: { id: true, name: true, displayName: true },
  });
  if (existing) throw new DuplicateModelError(existing);
  await requireFreeSpace(o.store, report.bytes);
  const config = JSON.parse(await readFile(path.join(report.dir, "config.json"), "utf8")) as object;
  return { report, digest, config };
}

/** Copies a prepared model into the store under `key` and checks the copy; returns its URI. */
export async function copyToStore(store: CheckpointStore, p: PreparedModel, key: string): Promise<string> {
  const uri = await store.put(p.report.dir, key, { files: p.report.files });
  try {
    const copied = await checkpointDigest(await store.localPath(uri));
    if (copied !== p.digest)
      throw new ModelValidationError(`${p.report.dir} changed while it was being imported; import it again once nothing writes to it`);
  } catch (err) {
    await store.remove(uri).catch(() => {});
    throw err;
  }
  return uri;
}

/** The columns of a new lineage root registered from `p`. */
export function rootVersionData(
  p: PreparedModel,
  o: { name: string; uri: string; displayName: string; source: "HOUSE" | "IMPORTED"; status: "CANDIDATE" | "SERVING"; notes?: string },
) {
  return {
    name: o.name,
    parentId: null,
    checkpointUri: o.uri,
    checkpointSha256: p.digest,
    status: o.status,
    promotedAt: o.status === "SERVING" ? new Date() : null,
    source: o.source,
    architecture: p.report.architecture,
    displayName: o.displayName,
    parameterCount: BigInt(p.report.parameterCount),
    sourcePath: p.report.dir,
    modelConfig: p.config,
    notes: o.notes ?? `imported from ${p.report.dir}`,
  };
}

export async function registerModelDir(o: RegisterOptions): Promise<RegisteredModel> {
  const prepared = await prepareModelDir(o);
  for (let attempt = 0; ; attempt++) {
    const name = await nextVersionName({ db: o.db });
    const uri = await copyToStore(o.store, prepared, `${name}-${prepared.digest.slice(0, 12)}`);
    try {
      const version = await o.db.policyVersion.create({
        data: rootVersionData(prepared, { name, uri, displayName: o.displayName, source: o.source, status: "CANDIDATE", notes: o.notes }),
        select: { id: true, name: true, displayName: true, checkpointUri: true, checkpointSha256: true, status: true },
      });
      return { version, report: prepared.report };
    } catch (err) {
      await o.store.remove(uri).catch(() => {});
      // Another import or a round took the name between nextVersionName and create: try the next one.
      if (isUniqueViolation(err) && attempt < 3) continue;
      throw err;
    }
  }
}

async function requireFreeSpace(store: CheckpointStore, bytes: number): Promise<void> {
  if (!(store instanceof DirectoryCheckpointStore)) return;
  const fs = await statfs(store.root).catch(() => null);
  if (!fs) return; // the store directory does not exist yet: put() creates it
  const free = fs.bavail * fs.bsize;
  // Leave room for the database and the next round's checkpoint too.
  if (free < bytes * 1.2) {
    throw new ModelValidationError(
      `not enough disk space in ${store.root}: the model needs ${(bytes / 1e9).toFixed(2)} GB, ${(free / 1e9).toFixed(2)} GB are free`,
    );
  }
}
