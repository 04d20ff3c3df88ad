// Shared set-up for the loop's integration tests: a tiny real GPT checkpoint registered as v0,
// and labelers' votes on on-policy battles with a learnable preference (the chosen completion
// repeats a marker word, the rejected one another), so a few seconds of DPO move held-out
// accuracy above chance.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { PrismaClient } from "../../src/generated/prisma/client.ts";
import { byteTokenizer, encodePrompt, GPT, type GPTConfig, initBackend, saveCheckpoint } from "../../src/lm/index.ts";

export const TINY_CONFIG: GPTConfig = { vocabSize: 260, nPositions: 48, nEmbd: 16, nLayer: 1, nHead: 2, layerNormEpsilon: 1e-5 };

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(tmpdir(), `dpo-loop-${prefix}-`));
}

/** Saves a freshly initialised tiny model and registers it as v0 SERVING. */
export async function registerTinyHouse(db: PrismaClient, opts: { seed?: number; name?: string; status?: "SERVING" | "CANDIDATE" } = {}) {
  await initBackend("cpu");
  const dir = await tempDir("house");
  const model = GPT.create(TINY_CONFIG, opts.seed ?? 7);
  const { sha256 } = await saveCheckpoint(model, byteTokenizer(), dir);
  model.dispose();
  return db.policyVersion.create({
    data: {
      name: opts.name ?? "v0",
      checkpointUri: `file:${dir}`,
      checkpointSha256: sha256,
      status: opts.status ?? "SERVING",
      promotedAt: (opts.status ?? "SERVING") === "SERVING" ? new Date() : null,
      modelConfig: { ...TINY_CONFIG },
    },
    select: { id: true, name: true, checkpointUri: true, checkpointSha256: true },
  });
}

const GOOD = ["sun", "joy", "yes", "kind"];
const BAD = ["rot", "no", "dim", "bleh"];

/** `count` decisive votes (plus `ties` ties) on on-policy battles of `versionId`; returns vote ids. */
export async function seedVotes(
  db: PrismaClient,
  versionId: number,
  count: number,
  opts: { ties?: number; offset?: number } = {},
): Promise<string[]> {
  const tok = byteTokenizer();
  const labeler = await db.user.upsert({
    where: { username: "labeler-loop" },
    create: { username: "labeler-loop", passwordHash: "x" },
    update: {},
  });
  const ids: string[] = [];
  const total = count + (opts.ties ?? 0);
  for (let k = 0; k < total; k++) {
    const i = k + (opts.offset ?? 0);
    const text = `Q${i % 40}:`;
    const prompt = await db.prompt.create({ data: { text, source: "test" } });
    const promptTokenIds = encodePrompt(tok, text);
    const good = ` ${GOOD[i % 4]} ${GOOD[(i + 1) % 4]}`;
    const bad = ` ${BAD[i % 4]} ${BAD[(i + 2) % 4]}`;
    const goodInA = i % 2 === 0;
    const battle = await db.battle.create({
      data: {
        promptId: prompt.id,
        labelerId: labeler.id,
        kind: "ON_POLICY",
        status: "VOTED",
        policyAId: versionId,
        policyBId: versionId,
        leaseExpiresAt: new Date(Date.now() + 60_000),
      },
    });
    for (const slot of ["A", "B"] as const) {
      const t = (slot === "A") === goodInA ? good : bad;
      await db.completion.create({
        data: {
          battleId: battle.id,
          slot,
          promptId: prompt.id,
          policyVersionId: versionId,
          text: t,
          promptTokenIds,
          tokenIds: tok.encode(t),
          temperature: 1,
          topP: 1,
          topK: 0,
          maxNewTokens: 16,
          seed: i,
          finishReason: "length",
          latencyMs: 5,
        },
      });
    }
    const choice = k >= count ? "TIE" : goodInA ? "A" : "B";
    const vote = await db.vote.create({
      data: { battleId: battle.id, labelerId: labeler.id, choice, msToVote: 1000, idempotencyKey: `vote-${battle.id}` },
    });
    if (k < count) ids.push(vote.id);
  }
  return ids;
}

/** Loop settings sized for the tiny model: a round of ~40 pairs takes a few seconds. */
export async function fastSettings(
  db: PrismaClient,
  overrides: { dpo?: Record<string, unknown>; gates?: Record<string, unknown>; schedule?: Record<string, unknown> } = {},
) {
  const { updateLoopSettings } = await import("../../src/server/services/rounds/settings.ts");
  return updateLoopSettings({
    db,
    patch: {
      schedule: { autoTrain: false, minNewPairs: 4, ...overrides.schedule },
      // patience 0: every epoch runs, so tests can count steps
      dpo: {
        beta: 0.5,
        lr: 3e-3,
        epochs: 3,
        batchSize: 8,
        heldoutFraction: 0.25,
        minPairs: 4,
        klPrompts: 0,
        patience: 0,
        // these tests are about round mechanics (TRL's log 2 at step 0, gates on tiny rounds);
        // labeler weighting has its own tests (labeler-weights.test.ts)
        labelerWeighting: "off",
        ...overrides.dpo,
      },
      // the KL gates need KL prompts; tests of the KL gates turn them on with klPrompts
      gates: { minHeldoutPairs: 4, klBudget: null, rootKlBudget: null, ...overrides.gates },
    } as never,
  });
}

/** Trainable pairs (never trained, or returned from rounds outside the serving lineage). */
export async function trainableCount(db: PrismaClient): Promise<number> {
  const { countPairs } = await import("../../src/server/services/rounds/pairs.ts");
  const { getLoopSettings } = await import("../../src/server/services/rounds/settings.ts");
  const s = await getLoopSettings({ db });
  const c = await countPairs(db, { versus: s.dpo.versusPairs, heldoutFraction: s.dpo.heldoutFraction });
  return c.fresh + c.returned;
}
