// An admin imports a Hugging Face directory that is already on the server: it becomes a new
// base version (its own lineage root, CANDIDATE), and is served now only if the admin asks.
// Serving goes through the same promotion as any other version, so a failure to serve leaves
// the imported version registered and the previous one serving.
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { AppError } from "../../errors.ts";
import type { CheckpointStore } from "../../policy/checkpoint-store.ts";
import { promoteVersion } from "../versions/promote.ts";
import { verifyVersionCheckpoint } from "../versions/verify.ts";
import { DuplicateModelError, type RegisteredModel, registerModelDir } from "./register.ts";
import { ModelValidationError, type ValidateOptions } from "./validate.ts";

export interface ImportModelOptions {
  db: PrismaClient;
  store: CheckpointStore;
  dir: string;
  name: string;
  serve: boolean;
  validate?: ValidateOptions;
}

export interface ImportModelResult extends RegisteredModel {
  served: boolean;
  /** why "serve now" did not happen, when it was asked for and failed */
  serveError: string | null;
}

export async function importModel(o: ImportModelOptions): Promise<ImportModelResult> {
  let registered: RegisteredModel;
  try {
    registered = await registerModelDir({
      db: o.db,
      store: o.store,
      dir: o.dir,
      displayName: o.name,
      source: "IMPORTED",
      validate: o.validate,
    });
  } catch (err) {
    if (err instanceof ModelValidationError)
      throw new AppError("INVALID_REQUEST", { message: err.message, userMessage: `Cannot import: ${err.message}`, cause: err });
    if (err instanceof DuplicateModelError)
      throw new AppError("CONFLICT", { message: err.message, userMessage: `Cannot import: ${err.message}`, cause: err });
    throw err;
  }
  if (!o.serve) return { ...registered, served: false, serveError: null };
  try {
    await serveModel({ db: o.db, store: o.store, versionId: registered.version.id });
    return { ...registered, version: { ...registered.version, status: "SERVING" }, served: true, serveError: null };
  } catch (err) {
    const message = err instanceof AppError ? err.userMessage : (err as Error).message;
    return { ...registered, served: false, serveError: message };
  }
}

/** "Serve now": the existing promotion, which loads the checkpoint and checks its digest first. */
export function serveModel(o: { db: PrismaClient; store: CheckpointStore; versionId: number }) {
  return promoteVersion({ db: o.db, versionId: o.versionId, verify: (v) => verifyVersionCheckpoint(v, o.store) });
}
