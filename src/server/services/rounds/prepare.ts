// A round's inputs: its base, reference and lineage root, and the pairs it trains and is judged
// on (trainable pairs, the persistent held-out set, optional replay), cut to fit the context.

import type { DpoSettings } from "../../../dpo/config.ts";
import type { Pair } from "../../../dpo/pairs.ts";
import { lineageOf, resolveReference } from "../../../dpo/reference.ts";
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { voteConfidence } from "../quality/inputs.ts";
import { apiTrainPairs, importedTrainPairs } from "./offline-pairs.ts";
import { assignSplits, heldoutPairs, replayPairs, trainablePairs, type VotePair } from "./pairs.ts";
import type { ScoredSequence } from "./reference-logps.ts";

export const versionRef = { id: true, name: true, checkpointUri: true, checkpointSha256: true, parentId: true } as const;
export type VersionRow = { id: number; name: string; checkpointUri: string; checkpointSha256: string; parentId: number | null };

export interface Lineage {
  base: VersionRow;
  reference: VersionRow;
  root: VersionRow;
}

export async function resolveLineage(db: PrismaClient, strategy: DpoSettings["reference"]): Promise<Lineage> {
  const base = await db.policyVersion.findFirst({ where: { status: "SERVING" }, select: versionRef });
  if (!base) throw new Error("no policy version is SERVING; register or promote one before training");
  const all = await db.policyVersion.findMany({ select: versionRef });
  const byId = new Map(all.map((v) => [v.id, v]));
  const chain = lineageOf(byId.get(base.id)!, (v) => (v.parentId ? byId.get(v.parentId) : null));
  return { base, reference: resolveReference(strategy, chain), root: chain[0] };
}

export interface Prepared {
  vote: VotePair;
  chosen: ScoredSequence;
  rejected: ScoredSequence;
  replay: boolean;
}

/** What a round used, stored with it (TrainingRound.usage) and shown on the rounds page. */
export interface Usage {
  /** trainable pairs never trained on before */
  new: number;
  /** pairs an earlier round trained on that did not end in the serving lineage */
  returned: number;
  /** of the training pairs, those from serving-vs-earlier battles */
  versus: number;
  replay: number;
  train: number;
  heldout: number;
  /** distinct prompts (normalized text) in the held-out set */
  heldoutPrompts: number;
  /** pairs dropped because they could not fit the model's context */
  dropped: number;
  /** labeler quality: training pairs dropped as doubtful ("exclude"), and the mean weight ("weight") */
  doubtful?: number;
  meanWeight?: number;
  /** of the training pairs (counted in new / returned too), those from imported datasets (setting `importedPairs`) */
  imported?: number;
  /** of the training pairs (counted in new / returned too), those from API preferences (setting `apiPairs`) */
  api?: number;
}

/** Fit prompt + completion into the context by cutting the completion's tail. */
function fit(promptIds: number[], ids: number[], nPositions: number): { ids: number[]; truncated: boolean } | null {
  const room = nPositions - promptIds.length;
  if (room < 1) return null;
  return ids.length <= room ? { ids, truncated: false } : { ids: ids.slice(0, room), truncated: true };
}

function prepare(vote: VotePair, isReplay: boolean, nPositions: number, vocabSize: number): Prepared | null {
  const c = fit(vote.promptIds, vote.chosen.tokenIds, nPositions);
  const r = fit(vote.promptIds, vote.rejected.tokenIds, nPositions);
  if (!c || !r) return null;
  if (c.ids.length === r.ids.length && c.ids.every((t, i) => t === r.ids[i])) return null;
  if ([vote.promptIds, c.ids, r.ids].some((ids) => ids.some((t) => t < 0 || t >= vocabSize))) return null;
  return {
    vote,
    replay: isReplay,
    chosen: { completionId: vote.chosen.completionId, promptIds: vote.promptIds, completionIds: c.ids, truncated: c.truncated },
    rejected: { completionId: vote.rejected.completionId, promptIds: vote.promptIds, completionIds: r.ids, truncated: r.truncated },
  };
}

export async function gatherPairs(db: PrismaClient, dpo: DpoSettings, model: { nPositions: number; vocabSize: number }) {
  await assignSplits(db, dpo.heldoutFraction);
  const fresh = [
    ...(await trainablePairs(db, { limit: dpo.maxPairs, versus: dpo.versusPairs })),
    ...(dpo.importedPairs ? await importedTrainPairs(db, { limit: dpo.maxPairs }) : []),
    ...(dpo.apiPairs ? await apiTrainPairs(db, { limit: dpo.maxPairs }) : []),
  ];
  const freshIds = new Set(fresh.map((p) => p.voteId));
  const replay = (await replayPairs(db, { limit: Math.round(fresh.length * dpo.replayFraction), versus: dpo.versusPairs })).filter(
    (p) => !freshIds.has(p.voteId),
  );
  const held = await heldoutPairs(db, { limit: dpo.maxHeldoutPairs, versus: dpo.versusPairs });
  const all = fresh.length + replay.length + held.length;
  const keep = (ps: VotePair[], isReplay: boolean) =>
    ps.map((p) => prepare(p, isReplay, model.nPositions, model.vocabSize)).filter((p): p is Prepared => p !== null);
  const kept = [...keep(fresh, false), ...keep(replay, true)];
  const train = await applyLabelerQuality(db, dpo, kept);
  const heldout = keep(held, false);
  const usable = train.filter((p) => !p.replay);
  const usage: Usage = {
    new: usable.filter((p) => !p.vote.returned).length,
    returned: usable.filter((p) => p.vote.returned).length,
    versus: train.filter((p) => p.vote.kind === "VERSUS").length,
    replay: train.length - usable.length,
    train: train.length,
    heldout: heldout.length,
    heldoutPrompts: new Set(heldout.map((p) => p.vote.promptKey)).size,
    dropped: all - kept.length - heldout.length,
    ...(dpo.labelerWeighting === "exclude" ? { doubtful: kept.length - train.length } : {}),
    ...(dpo.labelerWeighting === "weight" && train.length
      ? { meanWeight: train.reduce((s, p) => s + (p.vote.weight ?? 1), 0) / train.length }
      : {}),
    imported: usable.filter((p) => p.vote.source === "imported").length,
    api: usable.filter((p) => p.vote.source === "api").length,
  };
  return { train, heldout, usage };
}

export const toPair = (p: Prepared): Pair => ({
  promptIds: p.vote.promptIds,
  chosenIds: p.chosen.completionIds,
  rejectedIds: p.rejected.completionIds,
  cluster: p.vote.promptKey,
  ...(p.vote.weight === undefined ? {} : { weight: p.vote.weight }),
});

/**
 * Labeler quality in training (dpo.labelerWeighting): each training pair's weight is the
 * probability that its vote is right, or pairs below `minVoteConfidence` are dropped. The
 * held-out set is left as it is: the gates compare versions on the votes as cast.
 */
async function applyLabelerQuality(db: PrismaClient, dpo: DpoSettings, train: Prepared[]): Promise<Prepared[]> {
  if (dpo.labelerWeighting === "off" || train.length === 0) return train;
  const confidence = await voteConfidence({ db });
  const withWeight = train.map((p) => ({ ...p, vote: { ...p.vote, weight: confidence.get(p.vote.voteId) ?? 1 } }));
  return dpo.labelerWeighting === "weight" ? withWeight : withWeight.filter((p) => p.vote.weight >= dpo.minVoteConfidence).map(unweighted);
}

const unweighted = (p: Prepared): Prepared => {
  const { weight: _w, ...vote } = p.vote;
  return { ...p, vote };
};
