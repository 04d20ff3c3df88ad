// Step 1 of a round (execute.ts): everything it trains and is judged on, gathered before any
// training: its stored configuration, the lineage (base, reference, root) and their verified
// checkpoints, the pairs (recorded with the round, so the votes it used are known even if it
// dies), the reference log-probs of every pair and the held-out prompts of the KL check.
import { type DpoSettings, dpoSchema, type GateConfig, gatesSchema } from "../../../dpo/config.ts";
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { encodePrompt } from "../../../lm/index.ts";
import type { Logger } from "../../log.ts";
import type { CheckpointStore } from "../../policy/checkpoint-store.ts";
import { type LoadedCheckpoint, loadVerified } from "../../policy/load.ts";
import { getArenaSettings, type SamplingSettings } from "../arena-settings/index.ts";
import { jsonSafe } from "./finish.ts";
import { gatherPairs, type Lineage, type Prepared, resolveLineage, type Usage } from "./prepare.ts";
import { referenceLogprobs } from "./reference-logps.ts";
import { withDbRetry } from "./retry.ts";

export interface RoundInputs extends Lineage {
  roundNumber: number;
  dpo: DpoSettings;
  gates: GateConfig;
  sampling: SamplingSettings;
  baseModel: LoadedCheckpoint;
  refModel: LoadedCheckpoint;
  rootModel: LoadedCheckpoint;
  train: Prepared[];
  heldout: Prepared[];
  usage: Usage;
  /** the reference's summed completion log-probs, per completion id */
  referenceLogps: Awaited<ReturnType<typeof referenceLogprobs>>;
  /** held-out pool prompts for the KL check, encoded, that fit the context */
  klPromptIds: number[][];
}

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

/**
 * Gathers a claimed round's inputs. Every checkpoint it loads is pushed onto `models` as soon
 * as it is loaded, so the caller disposes of them even when a later step throws.
 */
export async function prepareRoundInputs(o: {
  db: PrismaClient;
  store: CheckpointStore;
  roundId: string;
  models: LoadedCheckpoint[];
  log: Logger;
}): Promise<RoundInputs> {
  const { db, store, roundId, models, log } = o;
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

  const referenceLogps = await referenceLogprobs({
    db,
    referenceVersionId: reference.id,
    reference: refModel.model,
    sequences: [...train, ...heldout].flatMap((p) => [p.chosen, p.rejected]),
  });

  const klPromptIds = (await klPromptTexts(db, dpo.klPrompts))
    .map((t) => encodePrompt(baseModel.tokenizer, t))
    .filter((ids) => ids.length < nPositions - 1);

  return {
    roundNumber: round.number,
    dpo,
    gates,
    sampling,
    base,
    reference,
    root,
    baseModel,
    refModel,
    rootModel,
    train,
    heldout,
    usage,
    referenceLogps,
    klPromptIds,
  };
}
