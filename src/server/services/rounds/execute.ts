// Runs one claimed round end to end: inputs (prepare.ts), training with checkpoint selection and
// the gates (src/dpo runRound), the verdict (finish.ts). Everything that can change what is
// served happens in one final transaction guarded by "this round is still ours" and "its base
// is still serving", so a cancelled or reaped round, or one overtaken by a rollback, can never
// change what is served.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { dpoSchema, gatesSchema } from "../../../dpo/config.ts";
import { gateFailureMessage } from "../../../dpo/gates.ts";
import { evalSummary, type StepMetrics } from "../../../dpo/metrics.ts";
import { type RoundResult, runRound } from "../../../dpo/round.ts";
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { encodePrompt, saveCheckpoint } from "../../../lm/index.ts";
import { createLogger, type Logger } from "../../log.ts";
import type { CheckpointStore } from "../../policy/checkpoint-store.ts";
import { checkpointDigest } from "../../policy/digest.ts";
import { type LoadedCheckpoint, loadVerified } from "../../policy/load.ts";
import { getArenaSettings } from "../arena-settings/index.ts";
import { jsonSafe, RoundLostError, recordVerdict, registerResult } from "./finish.ts";
import { claimRound, finishRound, renewLease } from "./lifecycle.ts";
import { gatherPairs, type Prepared, resolveLineage, toPair } from "./prepare.ts";
import { referenceLogprobs } from "./reference-logps.ts";
import { withDbRetry } from "./retry.ts";

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

/** Texts of held-out pool prompts, oldest assignment first so the KL set stays stable across rounds. */
async function klPromptTexts(db: PrismaClient, n: number): Promise<string[]> {
  if (n === 0) return [];
  const rows = await db.$queryRaw<{ text: string }[]>`
    SELECT DISTINCT ON (s."assignedAt", s.key) p.text
      FROM "PromptSplit" s JOIN "Prompt" p ON p."textKey" = s.key
     WHERE s.split = 'HELDOUT'
     ORDER BY s."assignedAt", s.key, p."createdAt"
     LIMIT ${n}`;
  return rows.map((r) => r.text);
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
  const heartbeat = setInterval(
    () => {
      renewLease({ db, roundId, workerId, leaseSeconds }).then(
        (ours) => {
          if (!ours && !abort.signal.aborted) abort.abort(new Error("the round was cancelled or its lease was taken over"));
        },
        (err) => log.warn("lease renewal failed; retrying", { error: err }),
      );
    },
    Math.max(200, (leaseSeconds * 1000) / 3),
  );

  const models: LoadedCheckpoint[] = [];
  let result: RoundResult | null = null;
  let workDir: string | null = null;
  const metricWrites: Promise<unknown>[] = [];
  try {
    const round = await db.trainingRound.findUniqueOrThrow({ where: { id: roundId }, select: { config: true, number: true } });
    const stored = (round.config ?? {}) as { dpo?: unknown; gates?: unknown };
    const dpo = dpoSchema.parse(stored.dpo ?? {});
    const gates = gatesSchema.parse(stored.gates ?? {});
    const { sampling } = await getArenaSettings({ db });

    const { base, reference, root } = await resolveLineage(db, dpo.reference);
    const load = async (v: typeof base) => {
      const m = await loadVerified(store, v);
      models.push(m);
      return m;
    };
    const baseModel = await load(base);
    const refModel = reference.id === base.id ? baseModel : await load(reference);
    const rootModel = root.id === reference.id ? refModel : root.id === base.id ? baseModel : await load(root);
    const { nPositions, vocabSize } = baseModel.model.config;

    const { train, heldout, usage } = await gatherPairs(db, dpo, { nPositions, vocabSize });
    if (usage.new + usage.returned < dpo.minPairs) {
      throw new Error(`only ${usage.new + usage.returned} usable trainable decisive pairs; a round needs at least ${dpo.minPairs}`);
    }

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
          data: {
            baseVersionId: base.id,
            referenceVersionId: reference.id,
            pairsTrain: train.length,
            pairsHeldout: heldout.length,
            usage: jsonSafe(usage),
          },
        }),
      ]),
    );
    log.info("round started", { round: round.number, base: base.name, reference: reference.name, root: root.name, ...usage });

    const prepared: Prepared[] = [...train, ...heldout];
    const ref = await referenceLogprobs({
      db,
      referenceVersionId: reference.id,
      reference: refModel.model,
      sequences: prepared.flatMap((p) => [p.chosen, p.rejected]),
    });
    const refOf = (ps: Prepared[]) => ({
      chosen: ps.map((p) => ref.logps.get(p.chosen.completionId)!),
      rejected: ps.map((p) => ref.logps.get(p.rejected.completionId)!),
    });

    const klIds = (await klPromptTexts(db, dpo.klPrompts))
      .map((t) => encodePrompt(baseModel.tokenizer, t))
      .filter((ids) => ids.length < nPositions - 1);

    const flush = (step: StepMetrics) => {
      const { step: n, ...values } = step;
      metricWrites.push(
        withDbRetry(() =>
          db.roundMetric.createMany({ data: [{ roundId, step: n, values: jsonSafe(values) }], skipDuplicates: true }),
        ).catch((err) => log.warn("could not record a step's metrics", { step: n, error: err })),
      );
    };
    result = await runRound({
      policy: baseModel.model,
      reference: refModel.model,
      root: rootModel.model,
      rootName: root.name,
      pairs: train.map(toPair),
      heldout: heldout.map(toPair),
      referenceLogps: refOf(train),
      heldoutReferenceLogps: heldout.length ? refOf(heldout) : undefined,
      klPrompts: klIds.length ? { tokenizer: baseModel.tokenizer, promptIds: klIds } : undefined,
      served: { maxNewTokens: sampling.maxNewTokens, temperature: sampling.temperature, topP: sampling.topP, topK: sampling.topK },
      config: { ...dpo, gates },
      onProgress: flush,
      signal: abort.signal,
    });
    await Promise.all(metricWrites);

    // The checkpoint is written whatever the verdict, so a rejected version can be inspected.
    workDir = await mkdtemp(path.join(tmpdir(), "dpo-round-"));
    await saveCheckpoint(result.model, baseModel.tokenizer, workDir);
    // The recorded digest covers config.json and tokenizer files too, not just the weights.
    const sha256 = await checkpointDigest(workDir);
    const failure = result.passed ? null : (gateFailureMessage(result.gates) ?? "a gate failed");
    const summary = jsonSafe({
      ...result.summary,
      heldout: evalSummary(result.heldout),
      heldoutBefore: evalSummary(result.heldoutBefore),
      klRound: result.klRound,
      klRoot: result.klRoot,
      klServed: result.kl?.served ?? null,
      root: { id: root.id, name: root.name },
      served: { maxNewTokens: sampling.maxNewTokens, temperature: sampling.temperature, topP: sampling.topP },
      checkpoints: result.checkpoints,
      selectedStep: result.selectedStep,
      stoppedEarly: result.stoppedEarly,
      config: result.config,
      referenceLogps: { cached: ref.cached, computed: ref.computed },
    });
    const version = await registerResult({
      db,
      store,
      workDir,
      sha256,
      parent: base,
      status: result.passed ? "CANDIDATE" : "REJECTED",
      roundNumber: round.number,
      model: result.model,
      tokenizerName: baseModel.tokenizer.name,
      failure,
    });
    const roundData = { summary, gates: jsonSafe(result.gates), resultVersionId: version.id, finishedAt: new Date() };
    return await recordVerdict({ db, store, roundId, workerId, base, version, failure, roundData, log });
  } catch (err) {
    await Promise.allSettled(metricWrites);
    if (err instanceof RoundLostError || abort.signal.aborted) {
      const reason = abort.signal.aborted
        ? String((abort.signal.reason as Error)?.message ?? abort.signal.reason)
        : "the round was cancelled or reaped before it could promote";
      const stillOurs = await withDbRetry(() =>
        finishRound({ db, roundId, workerId, status: "FAILED", error: `stopped: ${reason}` }),
      ).catch(() => false);
      log.warn("round stopped", { reason, markedFailed: stillOurs });
      return stillOurs ? "FAILED" : "CANCELLED";
    }
    const message = err instanceof Error ? err.message : String(err);
    log.error("round failed; serving unchanged", { error: err });
    await withDbRetry(() => finishRound({ db, roundId, workerId, status: "FAILED", error: message })).catch((e) =>
      log.error("could not mark the round FAILED; its lease will expire", { error: e }),
    );
    return "FAILED";
  } finally {
    clearInterval(heartbeat);
    opts.signal?.removeEventListener("abort", onOuterAbort);
    result?.model.dispose();
    for (const m of models) m.model.dispose();
    if (workDir) await rm(workDir, { recursive: true, force: true }).catch(() => {});
  }
}
