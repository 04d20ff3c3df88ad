// Step 2 of a round (execute.ts): DPO training with checkpoint selection and the gates, all in
// src/dpo's runRound; this step feeds it the round's inputs and records each step's metrics as
// it goes, so the rounds page draws the curves live.
import type { StepMetrics } from "../../../dpo/metrics.ts";
import { type RoundResult, runRound } from "../../../dpo/round.ts";
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import type { Logger } from "../../log.ts";
import { jsonSafe } from "./finish.ts";
import type { RoundInputs } from "./inputs.ts";
import { type Prepared, toPair } from "./prepare.ts";
import { withDbRetry } from "./retry.ts";

/**
 * Trains the round's candidate. Metric writes are pushed onto `metricWrites` so that the caller
 * can wait for them also when training throws; on success they have all settled.
 */
export async function trainCandidate(o: {
  db: PrismaClient;
  roundId: string;
  inputs: RoundInputs;
  metricWrites: Promise<unknown>[];
  signal: AbortSignal;
  log: Logger;
}): Promise<RoundResult> {
  const { db, roundId, inputs: x, metricWrites, log } = o;
  const ref = x.referenceLogps;
  const refOf = (ps: Prepared[]) => ({
    chosen: ps.map((p) => ref.logps.get(p.chosen.completionId)!),
    rejected: ps.map((p) => ref.logps.get(p.rejected.completionId)!),
  });
  const flush = (step: StepMetrics) => {
    const { step: n, ...values } = step;
    metricWrites.push(
      withDbRetry(() => db.roundMetric.createMany({ data: [{ roundId, step: n, values: jsonSafe(values) }], skipDuplicates: true })).catch(
        (err) => log.warn("could not record a step's metrics", { step: n, error: err }),
      ),
    );
  };
  const { sampling } = x;
  const result = await runRound({
    policy: x.baseModel.model,
    reference: x.refModel.model,
    root: x.rootModel.model,
    rootName: x.root.name,
    pairs: x.train.map(toPair),
    heldout: x.heldout.map(toPair),
    referenceLogps: refOf(x.train),
    heldoutReferenceLogps: x.heldout.length ? refOf(x.heldout) : undefined,
    klPrompts: x.klPromptIds.length ? { tokenizer: x.baseModel.tokenizer, promptIds: x.klPromptIds } : undefined,
    served: { maxNewTokens: sampling.maxNewTokens, temperature: sampling.temperature, topP: sampling.topP, topK: sampling.topK },
    config: { ...x.dpo, gates: x.gates },
    onProgress: flush,
    signal: o.signal,
  });
  await Promise.all(metricWrites);
  return result;
}
