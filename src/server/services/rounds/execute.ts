// Runs one claimed round end to end. Everything that can change what is served happens in one
// final transaction (promotion + the round's SUCCEEDED), guarded by "this round is still ours":
// a round that was cancelled or reaped meanwhile can never promote anything.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { encodePrompt, saveCheckpoint, type GPT } from "../../../lm/index.ts";
import { runRound, type RoundResult } from "../../../dpo/round.ts";
import { gateFailureMessage } from "../../../dpo/gates.ts";
import { lineageOf, resolveReference } from "../../../dpo/reference.ts";
import type { Pair } from "../../../dpo/pairs.ts";
import type { StepMetrics } from "../../../dpo/metrics.ts";
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import type { CheckpointStore } from "../../policy/checkpoint-store.ts";
import { loadVerified, type LoadedCheckpoint, type VersionRef } from "../../policy/load.ts";
import { checkpointDigest } from "../../policy/digest.ts";
import { createLogger, type Logger } from "../../log.ts";
import { promoteVersion } from "../versions/promote.ts";
import { nextVersionName } from "../versions/list.ts";
import { claimRound, finishRound, renewLease } from "./lifecycle.ts";
import { replayPairs, splitHeldout, unusedPairs, type VotePair } from "./pairs.ts";
import { referenceLogprobs, type ScoredSequence } from "./reference-logps.ts";
import { withDbRetry } from "./retry.ts";
import { dpoSchema, gatesSchema } from "./settings.ts";

export interface ExecuteOptions {
  db: PrismaClient;
  store: CheckpointStore;
  roundId: string;
  workerId: string;
  leaseSeconds?: number;
  log?: Logger;
  /** aborts the round (trainer shutdown) */
  signal?: AbortSignal;
}

export type ExecuteOutcome = "SKIPPED" | "SUCCEEDED" | "REJECTED" | "FAILED" | "CANCELLED";

const jsonSafe = (v: unknown) => JSON.parse(JSON.stringify(v ?? null)) as object;
const versionRef = { id: true, name: true, checkpointUri: true, checkpointSha256: true, parentId: true } as const;

/** Fit prompt + completion into the context by cutting the completion's tail. */
function fit(promptIds: number[], ids: number[], nPositions: number): { ids: number[]; truncated: boolean } | null {
  const room = nPositions - promptIds.length;
  if (room < 1) return null;
  return ids.length <= room ? { ids, truncated: false } : { ids: ids.slice(0, room), truncated: true };
}

export async function executeRound(opts: ExecuteOptions): Promise<ExecuteOutcome> {
  const { db, store, roundId, workerId } = opts;
  const leaseSeconds = opts.leaseSeconds ?? 60;
  const log = (opts.log ?? createLogger()).child({ roundId, workerId });
  const claimed = await withDbRetry(() => claimRound({ db, roundId, workerId, leaseSeconds }));
  if (!claimed) return "SKIPPED";

  const abort = new AbortController();
  const onOuterAbort = () => abort.abort(new Error("the trainer is shutting down"));
  opts.signal?.addEventListener("abort", onOuterAbort, { once: true });
  if (opts.signal?.aborted) onOuterAbort();
  // Renew the lease well before it expires; losing it (cancel, or reaped after a long outage) stops the round.
  const heartbeat = setInterval(() => {
    renewLease({ db, roundId, workerId, leaseSeconds }).then(
      (ours) => {
        if (!ours && !abort.signal.aborted) abort.abort(new Error("the round was cancelled or its lease was taken over"));
      },
      (err) => log.warn("lease renewal failed; retrying", { error: err }),
    );
  }, Math.max(200, (leaseSeconds * 1000) / 3));

  const models: LoadedCheckpoint[] = [];
  let result: RoundResult | null = null;
  let workDir: string | null = null;
  const metricWrites: Promise<unknown>[] = [];
  try {
    const round = await db.trainingRound.findUniqueOrThrow({ where: { id: roundId }, select: { config: true, number: true } });
    const stored = (round.config ?? {}) as { dpo?: unknown; gates?: unknown };
    const dpo = dpoSchema.parse(stored.dpo ?? {});
    const gates = gatesSchema.parse(stored.gates ?? {});

    const base = await db.policyVersion.findFirst({ where: { status: "SERVING" }, select: versionRef });
    if (!base) throw new Error("no policy version is SERVING; register or promote one before training");
    const all = await db.policyVersion.findMany({ select: versionRef });
    const byId = new Map(all.map((v) => [v.id, v]));
    const refVersion = resolveReference(dpo.reference, lineageOf(byId.get(base.id)!, (v) => (v.parentId ? byId.get(v.parentId) : null)));

    // Pairs: the newest unused votes, plus optional replay of pairs earlier rounds trained on.
    const fresh = await unusedPairs(db, dpo.maxPairs);
    const freshIds = new Set(fresh.map((p) => p.voteId));
    const replay = (await replayPairs(db, Math.round(fresh.length * dpo.replayFraction))).filter((p) => !freshIds.has(p.voteId));
    const baseModel = await loadVerified(store, base);
    models.push(baseModel);
    const refModel = refVersion.id === base.id ? baseModel : await loadVerified(store, refVersion);
    if (refModel !== baseModel) models.push(refModel);
    const { nPositions } = baseModel.model.config;

    type Prepared = { vote: VotePair; chosen: ScoredSequence; rejected: ScoredSequence; replay: boolean };
    const prepare = (vote: VotePair, isReplay: boolean): Prepared | null => {
      const c = fit(vote.promptIds, vote.chosen.tokenIds, nPositions);
      const r = fit(vote.promptIds, vote.rejected.tokenIds, nPositions);
      if (!c || !r) return null;
      if (c.ids.length === r.ids.length && c.ids.every((t, i) => t === r.ids[i])) return null;
      return {
        vote,
        replay: isReplay,
        chosen: { completionId: vote.chosen.completionId, promptIds: vote.promptIds, completionIds: c.ids, truncated: c.truncated },
        rejected: { completionId: vote.rejected.completionId, promptIds: vote.promptIds, completionIds: r.ids, truncated: r.truncated },
      };
    };
    const prepared = [...fresh.map((p) => prepare(p, false)), ...replay.map((p) => prepare(p, true))].filter((p): p is Prepared => p !== null);
    const usableFresh = prepared.filter((p) => !p.replay).length;
    if (usableFresh < dpo.minPairs) {
      throw new Error(`only ${usableFresh} usable new decisive pairs (A/B votes on on-policy battles); a round needs at least ${dpo.minPairs}`);
    }
    const { train, heldout } = splitHeldout(prepared.map((p) => ({ ...p, promptId: p.vote.promptId })), dpo.heldoutFraction, dpo.seed);

    await withDbRetry(() =>
      db.$transaction([
        db.roundVote.createMany({
          data: [
            ...train.map((p) => ({ roundId, voteId: p.vote.voteId, split: "TRAIN" as const })),
            ...heldout.map((p) => ({ roundId, voteId: p.vote.voteId, split: "HELDOUT" as const })),
          ],
          skipDuplicates: true,
        }),
        db.trainingRound.update({
          where: { id: roundId },
          data: { baseVersionId: base.id, referenceVersionId: refVersion.id, pairsTrain: train.length, pairsHeldout: heldout.length },
        }),
      ]),
    );
    log.info("round started", { round: round.number, base: base.name, reference: refVersion.name, train: train.length, heldout: heldout.length, replayed: replay.length });

    const ref = await referenceLogprobs({
      db,
      referenceVersionId: refVersion.id,
      reference: refModel.model,
      sequences: prepared.flatMap((p) => [p.chosen, p.rejected]),
    });
    const toPair = (p: Prepared): Pair => ({ promptIds: p.vote.promptIds, chosenIds: p.chosen.completionIds, rejectedIds: p.rejected.completionIds });
    const refOf = (ps: Prepared[]) => ({ chosen: ps.map((p) => ref.logps.get(p.chosen.completionId)!), rejected: ps.map((p) => ref.logps.get(p.rejected.completionId)!) });

    const klPromptRows = dpo.klPrompts > 0 && gates.klBudget !== null
      ? await db.prompt.findMany({ where: { heldOut: true }, orderBy: { createdAt: "asc" }, take: dpo.klPrompts, select: { text: true } })
      : [];
    const klPromptIds = klPromptRows.map((p) => encodePrompt(baseModel.tokenizer, p.text)).filter((ids) => ids.length < nPositions - 1);

    const flush = (step: StepMetrics) => {
      const { step: n, ...values } = step;
      metricWrites.push(
        withDbRetry(() => db.roundMetric.createMany({ data: [{ roundId, step: n, values: jsonSafe(values) }], skipDuplicates: true })).catch((err) =>
          log.warn("could not record a step's metrics", { step: n, error: err }),
        ),
      );
    };
    result = await runRound({
      policy: baseModel.model,
      reference: refModel.model,
      pairs: train.map(toPair),
      heldout: heldout.map(toPair),
      referenceLogps: refOf(train),
      heldoutReferenceLogps: heldout.length ? refOf(heldout) : undefined,
      klPrompts: klPromptIds.length ? { tokenizer: baseModel.tokenizer, promptIds: klPromptIds } : undefined,
      config: {
        beta: dpo.beta,
        lossType: dpo.lossType,
        lr: dpo.learningRate,
        batchSize: dpo.batchPairs,
        epochs: dpo.epochs,
        weightDecay: dpo.weightDecay,
        labelSmoothing: dpo.labelSmoothing,
        sftWeight: dpo.sftWeight,
        seed: dpo.seed,
        gates,
      },
      onProgress: flush,
      signal: abort.signal,
    });
    await Promise.all(metricWrites);

    // The checkpoint is written whatever the verdict, so a rejected version can be inspected.
    workDir = await mkdtemp(path.join(tmpdir(), "dpo-round-"));
    await saveCheckpoint(result.model, baseModel.tokenizer, workDir);
    // The recorded digest covers config.json and tokenizer files too, not just the weights.
    const sha256 = await checkpointDigest(workDir);
    const failure = result.passed ? null : gateFailureMessage(result.gates) ?? "a gate failed";
    const summary = jsonSafe({ ...result.summary, heldout: result.heldout, heldoutBefore: result.heldoutBefore, kl: result.kl, config: result.config, referenceLogps: { cached: ref.cached, computed: ref.computed } });
    const version = await registerResult({ db, store, workDir, sha256, parent: base, status: result.passed ? "CANDIDATE" : "REJECTED", roundNumber: round.number, model: result.model, tokenizerName: baseModel.tokenizer.name, failure });

    const roundData = { summary, gates: jsonSafe(result.gates), resultVersionId: version.id, finishedAt: new Date() };
    if (failure) {
      const ok = await withDbRetry(() =>
        db.trainingRound.updateMany({ where: { id: roundId, status: "RUNNING", workerId }, data: { ...roundData, status: "REJECTED", error: failure } }),
      );
      log.info("round rejected by its gates; serving unchanged", { version: version.name, failure, ours: ok.count === 1 });
      return ok.count === 1 ? "REJECTED" : "CANCELLED";
    }
    await withDbRetry(() =>
      promoteVersion({
        db,
        versionId: version.id,
        // What is about to be served must load and match its recorded sha256.
        verify: async (v) => (await loadVerified(store, v)).model.dispose(),
        alsoInTransaction: async (tx) => {
          const own = await tx.trainingRound.updateMany({ where: { id: roundId, status: "RUNNING", workerId }, data: { ...roundData, status: "SUCCEEDED" } });
          if (own.count !== 1) throw new RoundLostError();
        },
      }),
    );
    log.info("round succeeded; promoted", { version: version.name, loss: result.summary.last.loss });
    return "SUCCEEDED";
  } catch (err) {
    await Promise.allSettled(metricWrites);
    if (err instanceof RoundLostError || abort.signal.aborted) {
      const reason = abort.signal.aborted ? String((abort.signal.reason as Error)?.message ?? abort.signal.reason) : "the round was cancelled or reaped before it could promote";
      const stillOurs = await withDbRetry(() => finishRound({ db, roundId, workerId, status: "FAILED", error: `stopped: ${reason}` })).catch(() => false);
      log.warn("round stopped", { reason, markedFailed: stillOurs });
      return stillOurs ? "FAILED" : "CANCELLED";
    }
    const message = err instanceof Error ? err.message : String(err);
    log.error("round failed; serving unchanged", { error: err });
    await withDbRetry(() => finishRound({ db, roundId, workerId, status: "FAILED", error: message })).catch((e) => log.error("could not mark the round FAILED; its lease will expire", { error: e }));
    return "FAILED";
  } finally {
    clearInterval(heartbeat);
    opts.signal?.removeEventListener("abort", onOuterAbort);
    result?.model.dispose();
    for (const m of models) m.model.dispose();
    if (workDir) await rm(workDir, { recursive: true, force: true }).catch(() => {});
  }
}

class RoundLostError extends Error {
  constructor() {
    super("the round was cancelled or reaped before it could promote");
  }
}

async function registerResult(o: {
  db: PrismaClient;
  store: CheckpointStore;
  workDir: string;
  sha256: string;
  parent: VersionRef;
  status: "CANDIDATE" | "REJECTED";
  roundNumber: number;
  model: GPT;
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
            notes: o.failure ? `round #${o.roundNumber} (rejected: ${o.failure})`.slice(0, 1000) : `round #${o.roundNumber} from ${o.parent.name}`,
          },
          select: { id: true, name: true, checkpointUri: true, checkpointSha256: true },
        }),
      );
    } catch (err) {
      if (attempt >= 2) throw err;
    }
  }
}
