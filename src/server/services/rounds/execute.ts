// Runs one claimed round end to end, in four steps with a file each: its inputs (inputs.ts:
// configuration, lineage, pairs, reference log-probs), training with checkpoint selection and
// the gates (train.ts, src/dpo runRound), the gates' verdict (verdict.ts), and the version
// registered and promoted or rejected (finish.ts). Everything that can change what is served
// happens in one final transaction guarded by "this round is still ours" and "its base is still
// serving", so a cancelled or reaped round, or one overtaken by a rollback, can never change
// what is served. This file holds the lease while the steps run and ends a round that stops.
import type { RoundResult } from "../../../dpo/round.ts";
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { createLogger, type Logger } from "../../log.ts";
import type { CheckpointStore } from "../../policy/checkpoint-store.ts";
import type { LoadedCheckpoint } from "../../policy/load.ts";
import { publishResult, RoundLostError } from "./finish.ts";
import { prepareRoundInputs } from "./inputs.ts";
import { claimRound, finishRound, renewLease } from "./lifecycle.ts";
import { withDbRetry } from "./retry.ts";
import { trainCandidate } from "./train.ts";
import { judgeRound } from "./verdict.ts";

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

/**
 * Renews the round's lease well before it expires; losing it (cancel, or reaped after a long
 * outage) or the trainer shutting down (`outer`) aborts the returned signal.
 */
function holdLease(o: { db: PrismaClient; roundId: string; workerId: string; leaseSeconds: number; outer?: AbortSignal; log: Logger }): {
  signal: AbortSignal;
  release(): void;
} {
  const { db, roundId, workerId, leaseSeconds, outer, log } = o;
  const abort = new AbortController();
  const onOuterAbort = () => abort.abort(new Error("the trainer is shutting down"));
  outer?.addEventListener("abort", onOuterAbort, { once: true });
  if (outer?.aborted) onOuterAbort();
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
  return {
    signal: abort.signal,
    release: () => {
      clearInterval(heartbeat);
      outer?.removeEventListener("abort", onOuterAbort);
    },
  };
}

export async function executeRound(opts: ExecuteOptions): Promise<ExecuteOutcome> {
  const { db, store, roundId, workerId } = opts;
  const leaseSeconds = opts.leaseSeconds ?? 60;
  const log = (opts.log ?? createLogger()).child({ roundId, workerId });
  const claimed = await withDbRetry(() => claimRound({ db, roundId, workerId, leaseSeconds }));
  if (!claimed) return "SKIPPED";

  const lease = holdLease({ db, roundId, workerId, leaseSeconds, outer: opts.signal, log });
  const models: LoadedCheckpoint[] = [];
  let result: RoundResult | null = null;
  const metricWrites: Promise<unknown>[] = [];
  try {
    const inputs = await prepareRoundInputs({ db, store, roundId, models, log });
    result = await trainCandidate({ db, roundId, inputs, metricWrites, signal: lease.signal, log });
    const judgement = judgeRound(result, inputs);
    return await publishResult({ db, store, roundId, workerId, inputs, result, judgement, log });
  } catch (err) {
    await Promise.allSettled(metricWrites);
    const aborted = lease.signal;
    if (err instanceof RoundLostError || aborted.aborted) {
      const reason = aborted.aborted
        ? String((aborted.reason as Error)?.message ?? aborted.reason)
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
    lease.release();
    result?.model.dispose();
    for (const m of models) m.model.dispose();
  }
}
