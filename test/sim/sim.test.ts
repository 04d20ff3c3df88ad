// The whole loop, driven the way the sim drives it: a private product (fresh database, the
// product's API route handlers in a web process, the real trainer worker), synthetic labelers
// voting over HTTP, one DPO round on a tiny GPT, then measurement and the report files.
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { PrismaClient } from "../../src/generated/prisma/client.ts";
import { byteTokenizer, GPT, type GPTConfig, initBackend, saveCheckpoint } from "../../src/lm/index.ts";
import { runSim } from "../../src/sim/product/run.ts";
import { writeReport } from "../../src/sim/report.ts";
import { summarize } from "../../src/sim/summary.ts";

// Context long enough for the longest seed prompt (79 bytes) plus a few new tokens.
const TINY: GPTConfig = { vocabSize: 260, nPositions: 96, nEmbd: 16, nLayer: 1, nHead: 2, layerNormEpsilon: 1e-5 };

async function registerTinyV0(db: PrismaClient, dir: string): Promise<void> {
  await initBackend("cpu");
  const model = GPT.create(TINY, 11);
  const { sha256 } = await saveCheckpoint(model, byteTokenizer(), dir);
  model.dispose();
  await db.policyVersion.create({
    data: {
      name: "v0",
      checkpointUri: `file:${dir}`,
      checkpointSha256: sha256,
      status: "SERVING",
      promotedAt: new Date(),
      modelConfig: { ...TINY },
    },
  });
}

const TRAINING_PROMPTS = 30;
const LABELERS = 3;

describe("npm run sim (short, tiny model)", () => {
  let work: string | undefined;
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("labelers vote over HTTP, one round promotes v1, and the report is written", async () => {
    work = await mkdtemp(path.join(tmpdir(), "dpo-sim-"));
    const logs: string[] = [];
    const result = await runSim({
      workDir: work,
      web: "host",
      tfBackend: "cpu",
      // No house model for this product: the test registers its tiny v0 instead.
      houseModelDir: path.join(work, "no-house-model"),
      prepare: (db) => registerTinyV0(db, path.join(work!, "tiny-v0")),
      labelers: LABELERS,
      careless: 0,
      temperature: 1,
      // A random tiny model rarely writes a lexicon word, so ties are disabled to get pairs.
      tieThreshold: 0,
      thinkMs: 0,
      rounds: 1,
      minutes: 3,
      // After the round: 10 s of battles between v1 and v0 only, with training switched off.
      ratingMinutes: 1 / 6,
      beta: 0.5,
      votesPerRound: 8,
      dpo: { lr: 3e-3, epochs: 2, heldoutFraction: 0.25, minPairs: 4, klPrompts: 0 },
      // The labels are coin flips here, so the improvement test would rightly refuse the round:
      // it is computed and reported but not required, and the drift budgets are off.
      gates: { minHeldoutPairs: 1, requireImprovement: false, klBudget: null, rootKlBudget: null },
      sampling: { maxNewTokens: 4 },
      // The default prompt set: the seed pool is switched off and sentiment prefixes imported.
      // Few on purpose: the labelers use up the training prompts before the round ends (the
      // condition that left the rating phase with 0 votes), and the reserve must carry it.
      extraPrompts: TRAINING_PROMPTS,
      ratingPrompts: 60,
      evalPrompts: 2,
      evalSamplesPerPrompt: 2,
      corpusWindows: 2,
      seed: 3,
      log: (m) => logs.push(m),
    });

    expect(result.stoppedBecause, logs.join("\n")).toBe("1 rounds finished");
    expect(result.votes).toBeGreaterThanOrEqual(8);
    expect(result.labelers.reduce((s, l) => s + l.votes.A + l.votes.B + l.votes.TIE + l.votes.BOTH_BAD, 0)).toBe(result.votes);
    const round = result.rounds[0];
    expect(round.status).toBe("SUCCEEDED");
    expect(round.pairsTrain).toBeGreaterThan(0);
    expect(round.metrics.length).toBeGreaterThan(0);
    expect(round.resultVersion).toBe("v1");
    // β is read where the round stores it (it used to come out null).
    expect(round.beta).toBe(0.5);
    expect(round.pairs.train).toBe(round.pairsTrain);
    expect(result.votesUntilFirstPromotion).toBeGreaterThanOrEqual(8);
    // The serving version changed: v0 retired, v1 serving, both measured.
    expect(result.versions.map((v) => [v.name, v.status])).toEqual([
      ["v0", "RETIRED"],
      ["v1", "SERVING"],
    ]);
    expect(result.versions[0].klFromRoot).toBe(0);
    expect(result.versions[1].klFromRoot).toBeGreaterThan(0);
    for (const v of result.versions) {
      expect(v.heldoutCorpusLoss).toBeGreaterThan(0);
      expect(v.repetitionRate).toBeGreaterThanOrEqual(0);
    }
    for (const v of result.versions) expect(v.samples).toBe(4);
    // The rating phase rated v1 against v0 (a version is rated only in battles with another one),
    // on the reserve: training could only use its own prompts (each is judged once; a few votes
    // in flight at the stop may land after the count), and the reserve arrived with the phase.
    expect(result.prompts).toEqual({ training: TRAINING_PROMPTS, reserve: 60, reserveImported: 60 });
    expect(result.votes - result.ratingVotes).toBeLessThanOrEqual(TRAINING_PROMPTS + LABELERS);
    expect(result.ratingVotes, logs.join("\n")).toBeGreaterThan(0);
    // Each labeler may still hold one on-policy battle assigned just before the phase began (more
    // likely since completions look past max new tokens for a word boundary): its vote counts
    // in the phase but rates nothing.
    expect(result.versions[1].ratingBattles).toBeGreaterThanOrEqual(result.ratingVotes - 3);
    expect(result.rounds.filter((r) => r.status === "SUCCEEDED").map((r) => r.resultVersion)).toEqual(["v1"]);

    const out = path.join(work, "report");
    const files = await writeReport(out, {
      versions: result.versions,
      rounds: result.rounds,
      summary: summarize(result.versions, {
        decisiveVotes: result.decisiveVotes,
        votesUntilFirstPromotion: result.votesUntilFirstPromotion,
        rootKlBudget: result.rootKlBudget,
      }),
      config: { rootKlBudget: result.rootKlBudget },
      labelers: result.labelers,
    });
    const json = JSON.parse(await readFile(files.json, "utf8"));
    for (const v of json.versions)
      for (const key of [
        "name",
        "meanReward",
        "rewardStd",
        "klFromRoot",
        "repetitionRate",
        "heldoutCorpusLoss",
        "heldoutAccuracy",
        "rating",
      ])
        expect(v).toHaveProperty(key);
    expect(json.config).toHaveProperty("rootKlBudget");
    expect(existsSync(files.svg)).toBe(true);
    // Votes keep coming while round 1 trains, so a second round may already be queued.
    expect(json.rounds[0]).toMatchObject({ number: 1, status: "SUCCEEDED", resultVersion: "v1" });
    const html = await readFile(files.html, "utf8");
    expect(html).toContain('<script src="chart.umd.js">');
    expect(html).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)/);
    expect(existsSync(path.join(out, "chart.umd.js"))).toBe(true);
  }, 240_000);
});
