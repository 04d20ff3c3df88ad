// Step 4 of a round (execute.ts): the verdict recorded. The checkpoint is registered as a
// version, then the round ends REJECTED (a gate failed), SUCCEEDED and served, or SUCCEEDED but
// NOT served because its base stopped serving while it trained (an admin's rollback is never
// undone by a finishing round). Each ends in one transaction guarded by "this round is still ours".

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { RoundResult } from "../../../dpo/round.ts";
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { type CausalLM, saveCheckpoint } from "../../../lm/index.ts";
import type { Logger } from "../../log.ts";
import type { CheckpointStore } from "../../policy/checkpoint-store.ts";
import { checkpointDigest } from "../../policy/digest.ts";
import { loadVerified } from "../../policy/load.ts";
import { nextVersionName } from "../versions/list.ts";
import { BaseNotServingError, promoteVersion } from "../versions/promote.ts";
import type { RoundInputs } from "./inputs.ts";
import type { VersionRow } from "./prepare.ts";
import { withDbRetry } from "./retry.ts";
import type { Judgement } from "./verdict.ts";

export const jsonSafe = (v: unknown) => JSON.parse(JSON.stringify(v ?? null)) as object;

export class RoundLostError extends Error {
  constructor() {
    super("the round was cancelled or reaped before it could promote");
  }
}

export async function registerResult(o: {
  db: PrismaClient;
  store: CheckpointStore;
  workDir: string;
  sha256: string;
  parent: VersionRow;
  status: "CANDIDATE" | "REJECTED";
  roundNumber: number;
  model: CausalLM;
  tokenizerName: string;
  failure: string | null;
}) {
  // One round runs at a time, so the next name is free; retry once if an import raced us.
  for (let attempt = 0; ; attempt++) {
    const name = await withDbRetry(() => nextVersionName({ db: o.db }));
    // The key carries the hash, so a retry can never overwrite another version's checkpoint.
    const uri = await o.store.put(o.workDir, `${name}-${o.sha256.slice(0, 12)}`);
    try {
      return await withDbRetry(() =>
        o.db.policyVersion.create({
          data: {
            name,
            parentId: o.parent.id,
            checkpointUri: uri,
            checkpointSha256: o.sha256,
            status: o.status,
            modelConfig: jsonSafe({ ...o.model.config, tokenizer: o.tokenizerName }),
            notes: o.failure
              ? `round #${o.roundNumber} (rejected: ${o.failure})`.slice(0, 1000)
              : `round #${o.roundNumber} from ${o.parent.name}`,
          },
          select: { id: true, name: true, checkpointUri: true, checkpointSha256: true },
        }),
      );
    } catch (err) {
      if (attempt >= 2) throw err;
    }
  }
}

export type Verdict = "SUCCEEDED" | "REJECTED" | "CANCELLED";

/** Records the verdict of a round whose version `versionId` is registered. */
export async function recordVerdict(o: {
  db: PrismaClient;
  store: CheckpointStore;
  roundId: string;
  workerId: string;
  base: VersionRow;
  version: { id: number; name: string };
  failure: string | null;
  roundData: Record<string, unknown>;
  log: Logger;
}): Promise<Verdict> {
  const { db, roundId, workerId } = o;
  const ours = { id: roundId, status: "RUNNING" as const, workerId };
  if (o.failure) {
    const ok = await withDbRetry(() =>
      db.trainingRound.updateMany({ where: ours, data: { ...o.roundData, status: "REJECTED", error: o.failure } }),
    );
    o.log.info("round rejected by its gates; serving unchanged", { version: o.version.name, failure: o.failure, ours: ok.count === 1 });
    return ok.count === 1 ? "REJECTED" : "CANCELLED";
  }
  try {
    await withDbRetry(() =>
      promoteVersion({
        db,
        versionId: o.version.id,
        onlyIfServing: o.base.id,
        // What is about to be served must load and match its recorded sha256.
        verify: async (v) => (await loadVerified(o.store, v)).model.dispose(),
        alsoInTransaction: async (tx) => {
          const own = await tx.trainingRound.updateMany({ where: ours, data: { ...o.roundData, status: "SUCCEEDED" } });
          if (own.count !== 1) throw new RoundLostError();
        },
      }),
    );
    o.log.info("round succeeded; promoted", { version: o.version.name });
    return "SUCCEEDED";
  } catch (err) {
    if (!(err instanceof BaseNotServingError)) throw err;
    const now = err.servingId === null ? null : await db.policyVersion.findUnique({ where: { id: err.servingId }, select: { name: true } });
    const note =
      `Gates passed, but ${o.version.name} was not served: its base ${o.base.name} stopped serving during the round ` +
      `(${now ? `${now.name} is serving now, e.g. after a rollback` : "nothing is serving now"}). Promote ${o.version.name} by hand if you want it.`;
    const ok = await withDbRetry(() => db.trainingRound.updateMany({ where: ours, data: { ...o.roundData, status: "SUCCEEDED", note } }));
    o.log.warn("round succeeded but its base is no longer serving; registered without serving it", {
      version: o.version.name,
      base: o.base.name,
    });
    return ok.count === 1 ? "SUCCEEDED" : "CANCELLED";
  }
}

/**
 * Writes the candidate's checkpoint (whatever the verdict, so a rejected version can be
 * inspected), registers it and records the verdict; promotes it when every gate passed.
 */
export async function publishResult(o: {
  db: PrismaClient;
  store: CheckpointStore;
  roundId: string;
  workerId: string;
  inputs: RoundInputs;
  result: RoundResult;
  judgement: Judgement;
  log: Logger;
}): Promise<Verdict> {
  const { db, store, roundId, workerId, inputs, result, log } = o;
  const { failure, summary } = o.judgement;
  const workDir = await mkdtemp(path.join(tmpdir(), "dpo-round-"));
  try {
    await saveCheckpoint(result.model, inputs.baseModel.tokenizer, workDir);
    // The recorded digest covers config.json and tokenizer files too, not just the weights.
    const sha256 = await checkpointDigest(workDir);
    const version = await registerResult({
      db,
      store,
      workDir,
      sha256,
      parent: inputs.base,
      status: result.passed ? "CANDIDATE" : "REJECTED",
      roundNumber: inputs.roundNumber,
      model: result.model,
      tokenizerName: inputs.baseModel.tokenizer.name,
      failure,
    });
    const roundData = { summary, gates: jsonSafe(result.gates), resultVersionId: version.id, finishedAt: new Date() };
    return await recordVerdict({ db, store, roundId, workerId, base: inputs.base, version, failure, roundData, log });
  } finally {
    await rm(workDir, { recursive: true, force: true }).catch(() => {});
  }
}
