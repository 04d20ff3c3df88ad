// Hands a labeler their next battle. Rules: never a prompt they wrote or had a battle on before
// (voted, skipped, or expired: a late vote on an expired battle is still accepted, so serving
// its prompt again would allow two judgements of one pair);
// a pool prompt is served until `overlapTarget` distinct labelers hold or voted a battle on it;
// a battle not voted within its lease goes back to the pool (status EXPIRED). Overlapping
// labelers see the same two completions (copied from the first finished battle on the prompt)
// so that their votes can be compared (agreement, κ).
import { Prisma, type PrismaClient } from "../../../generated/prisma/client.ts";
import { AppError } from "../../errors.ts";
import { type ArenaSettings, getArenaSettings } from "../arena-settings/index.ts";
import { pickContestant } from "../contestants/pick.ts";
import { contextTokensOf, maxPromptBytes, promptBytes } from "../prompts/context-fit.ts";
import { claimGoldBattle } from "./gold.ts";
import { fillsOverlapFirst } from "./overlap-preference.ts";

/** The current battle plus prefetched ones; more would hold pool prompts nobody looks at. */
export const MAX_OPEN_BATTLES = 3;

export interface AssignedBattle {
  battleId: string;
  promptId: string;
  promptText: string;
  leaseExpiresAt: Date;
  /** completions already exist (an overlap copy, or a resumed battle): nothing to sample */
  ready: boolean;
}

export type NextBattleResult =
  | { status: "battle"; battle: AssignedBattle }
  | { status: "empty"; message: string }
  | { status: "unavailable"; message: string };

const LEASE_SWEEP_INTERVAL_MS = 1000;
const lastLeaseSweep = new WeakMap<object, number>();

/** Returns open battles whose lease has passed to the pool. */
export async function expireLeases({ db, now = new Date() }: { db: PrismaClient; now?: Date }): Promise<number> {
  return db.$executeRaw`UPDATE "Battle" SET status = 'EXPIRED', "finishedAt" = ${now} WHERE status = 'OPEN' AND "leaseExpiresAt" < ${now}`;
}

async function toAssigned(db: PrismaClient, battleId: string): Promise<AssignedBattle> {
  const b = await db.battle.findUniqueOrThrow({
    where: { id: battleId },
    select: {
      id: true,
      promptId: true,
      leaseExpiresAt: true,
      prompt: { select: { text: true } },
      _count: { select: { completions: true } },
    },
  });
  return {
    battleId: b.id,
    promptId: b.promptId,
    promptText: b.prompt.text,
    leaseExpiresAt: b.leaseExpiresAt,
    ready: b._count.completions >= 2,
  };
}

export interface NextBattleOptions {
  db: PrismaClient;
  labelerId: string;
  /** battles the client already has (the current one, a prefetched one) */
  excludeBattleIds?: string[];
  /** a prompt the labeler typed (only when the admin allows it) */
  promptText?: string;
  random?: () => number;
  now?: Date;
  settings?: ArenaSettings;
}

export async function nextBattle(opts: NextBattleOptions): Promise<NextBattleResult> {
  const { db, labelerId } = opts;
  const random = opts.random ?? Math.random;
  const now = opts.now ?? new Date();
  const settings = opts.settings ?? (await getArenaSettings({ db }));
  // Leases are minutes long: sweeping once a second per process is as good as on every call.
  if (opts.now !== undefined || (lastLeaseSweep.get(db) ?? 0) + LEASE_SWEEP_INTERVAL_MS <= Date.now()) {
    lastLeaseSweep.set(db, Date.now());
    await expireLeases({ db, now });
  }

  if (opts.promptText !== undefined && !settings.arena.allowLabelerPrompts) {
    throw new AppError("FORBIDDEN", { userMessage: "Typing your own prompt is turned off; an admin can allow it in the settings." });
  }
  // A reload or a second tab resumes the labeler's open battle instead of taking a new prompt.
  // (Read without a lock as the fast path; the transaction below decides under one.)
  const exclude = new Set(opts.excludeBattleIds ?? []);
  const resumable = (open: { id: string }[]) => (opts.promptText === undefined ? open.find((b) => !exclude.has(b.id)) : undefined);
  const capReached = (n: number) =>
    new AppError("CONFLICT", { userMessage: `You already have ${n} open battles; vote or skip one first.` });
  const open = await db.battle.findMany({ where: { labelerId, status: "OPEN" }, orderBy: { createdAt: "asc" }, select: { id: true } });
  const resume = resumable(open);
  if (resume) return { status: "battle", battle: await toAssigned(db, resume.id) };
  if (open.length >= MAX_OPEN_BATTLES) throw capReached(open.length);

  const serving = await db.policyVersion.findFirst({ where: { status: "SERVING" }, select: { id: true, name: true, modelConfig: true } });
  const servingCtx = contextTokensOf(serving?.modelConfig);
  const maxBytes = servingCtx ? maxPromptBytes(servingCtx) : null;
  if (opts.promptText !== undefined && maxBytes !== null && promptBytes(opts.promptText) > maxBytes) {
    throw new AppError("INVALID_REQUEST", {
      userMessage: `Your prompt is too long for the model being served: at most ${maxBytes} bytes (it has ${promptBytes(opts.promptText)}).`,
    });
  }
  if (!serving)
    return {
      status: "unavailable",
      message: "No model is being served yet, so no battles can be sampled. An admin must register or promote a policy version.",
    };

  // Read outside the transaction: its (cached) count query needs a connection of its own, and
  // transactions waiting for one while holding theirs could exhaust the pool.
  const overlapFirst =
    opts.promptText === undefined ? await fillsOverlapFirst({ db, labelerId, enabled: settings.arena.overlapPreferUncertain }) : true;
  const assigned = await db.$transaction(async (tx): Promise<AssignedBattle | { resumeId: string } | null> => {
    // No need to wait for the WAL flush: a battle lost in a crash is only handed out again
    // (votes, which must never be lost, commit synchronously and flush everything before them).
    await tx.$executeRaw`SET LOCAL synchronous_commit = off`;
    // One assignment per labeler at a time, so the cap holds against concurrent requests (a
    // batch of 20 `arena.next` calls used to read "0 open" 20 times). NO KEY UPDATE does not
    // block the foreign-key checks of votes and battles that reference the user.
    await tx.$queryRaw`SELECT 1 FROM "User" WHERE id = ${labelerId} FOR NO KEY UPDATE`;
    const openNow = await tx.battle.findMany({ where: { labelerId, status: "OPEN" }, orderBy: { createdAt: "asc" }, select: { id: true } });
    const resumeNow = resumable(openNow);
    if (resumeNow) return { resumeId: resumeNow.id };
    if (openNow.length >= MAX_OPEN_BATTLES) throw capReached(openNow.length);
    const leaseExpiresAt = new Date(now.getTime() + settings.arena.battleLeaseMinutes * 60_000);
    if (opts.promptText === undefined) {
      const gold = await claimGoldBattle(tx as unknown as PrismaClient, {
        labelerId,
        servingId: serving.id,
        rate: settings.arena.goldRate,
        random,
        now,
        leaseExpiresAt,
      });
      if (gold) return { ...gold, leaseExpiresAt, ready: false };
    }
    let prompt: { id: string; text: string; hasCompletions: boolean } | null;
    if (opts.promptText !== undefined) {
      // Kept out of the pool until an admin enables it: typed prompts are not reviewed.
      const created = await tx.prompt.create({
        data: { text: opts.promptText, source: "labeler", authorId: labelerId, enabled: false },
        select: { id: true, text: true },
      });
      prompt = { ...created, hasCompletions: false };
    } else {
      prompt = await claimPoolPrompt(tx as unknown as PrismaClient, labelerId, maxBytes, overlapFirst);
      if (prompt === null) return null;
    }
    const promptId = prompt.id;
    const assignedAs = (battleId: string, ready: boolean): AssignedBattle => ({
      battleId,
      promptId,
      promptText: prompt.text,
      leaseExpiresAt,
      ready,
    });
    // Overlap: reuse the pair another labeler judged (same order), so votes are comparable.
    // (The claim already said whether the prompt has any completions: usually not.) Only a pair
    // the serving version took part in is copied: after a swap, an older pair would be revealed as
    // "the current model" when it is not, and would train the new version on another's samples.
    // Nor is a pair from a contestant an admin removed or disabled. Otherwise the prompt gets a
    // new pair.
    const source = !prompt.hasCompletions
      ? null
      : await tx.battle.findFirst({
          where: {
            promptId,
            completions: { some: {} },
            AND: [
              { OR: [{ policyAId: serving.id }, { policyBId: serving.id }] },
              { OR: [{ kind: { not: "ON_POLICY" } }, { policyAId: serving.id, policyBId: serving.id }] },
              { OR: [{ contestantId: null }, { contestant: { is: { removedAt: null, enabled: true } } }] },
            ],
          },
          orderBy: { createdAt: "asc" },
          select: { kind: true, policyAId: true, policyBId: true, contestantId: true, swapped: true, completions: true },
        });
    if (source && source.completions.length === 2) {
      const battle = await tx.battle.create({
        data: {
          promptId,
          labelerId,
          kind: source.kind,
          policyAId: source.policyAId,
          policyBId: source.policyBId,
          contestantId: source.contestantId,
          swapped: source.swapped,
          leaseExpiresAt,
          createdAt: now,
        },
        select: { id: true },
      });
      await tx.completion.createMany({
        data: source.completions.map(({ id: _id, battleId: _b, createdAt: _c, ...c }) => ({ ...c, battleId: battle.id })),
      });
      return assignedAs(battle.id, true);
    }

    const versusShare = random() >= settings.arena.onPolicyShare;
    // Part of the versus share meets an external contestant instead of an earlier version.
    const contestantId = versusShare
      ? await pickContestant(tx as unknown as PrismaClient, { share: settings.arena.contestantShare, random, now })
      : null;
    const earlier = versusShare && contestantId === null ? await earlierVersions(tx as unknown as PrismaClient, serving.id) : [];
    const versus = earlier.length > 0;
    // The other side's version: none for a contestant (its slot's column stays null).
    const other = contestantId !== null ? null : versus ? earlier[Math.floor(random() * earlier.length)]! : serving.id;
    // policyA/policyB are the versions in slots A and B (what ratings read); `swapped` records
    // that the random left/right draw put the serving version on the right.
    const swapped = random() < 0.5;
    const battle = await tx.battle.create({
      data: {
        promptId,
        labelerId,
        kind: contestantId !== null ? "CONTESTANT" : versus ? "VERSUS" : "ON_POLICY",
        policyAId: swapped ? other : serving.id,
        policyBId: swapped ? serving.id : other,
        contestantId,
        swapped,
        leaseExpiresAt,
        createdAt: now,
      },
      select: { id: true },
    });
    return assignedAs(battle.id, false);
  });

  if (assigned === null) {
    return {
      status: "empty",
      message: "No prompts are waiting for you right now: you have judged everything available. Check back later.",
    };
  }
  if ("resumeId" in assigned) return { status: "battle", battle: await toAssigned(db, assigned.resumeId) };
  return { status: "battle", battle: assigned };
}

/**
 * Chooses and locks a pool prompt for this labeler inside the caller's transaction, or null
 * when none is left. Prompts closer to their overlap target come first, so overlapping
 * judgments complete; then the pool in id (≈ import) order. "activeBattles" (kept by a
 * trigger) finds candidates without counting every prompt's battles; the exact rule
 * (distinct labelers with an OPEN or VOTED battle) is checked on the chosen one.
 *
 * Prompts longer than the serving model's context (services/prompts/context-fit.ts) are passed
 * over: they would fail in every battle; they stay in the pool for a model with a longer one.
 *
 * The chosen prompt row is locked (FOR NO KEY UPDATE SKIP LOCKED): concurrent assignments
 * take different prompts instead of queueing behind one lock, and two labelers cannot both
 * take a prompt's last overlap slot. The count is read again after the lock, because a battle
 * committed between the query's snapshot and the lock is not in it (nor one this labeler got
 * a moment ago in another tab); such a prompt is passed over, and the next query sees why.
 */
async function claimPoolPrompt(
  tx: PrismaClient,
  labelerId: string,
  maxBytes: number | null,
  overlapFirst = true,
): Promise<{ id: string; text: string; hasCompletions: boolean } | null> {
  // overlap-preference.ts: labelers with a well-checked estimate take fresh prompts first (the
  // same index walked backwards), leaving overlap slots to the least certain ones.
  const order = overlapFirst ? Prisma.sql`p."activeBattles" DESC, p.id` : Prisma.sql`p."activeBattles" ASC, p.id DESC`;
  const candidates = (lock: Prisma.Sql) => tx.$queryRaw<{ id: string; text: string; overlapTarget: number; hasCompletions: boolean }[]>`
      SELECT p.id, p.text, p."overlapTarget",
             EXISTS (SELECT 1 FROM "Battle" b JOIN "Completion" c ON c."battleId" = b.id
                      WHERE b."promptId" = p.id) AS "hasCompletions"
        FROM "Prompt" p
       WHERE p.enabled AND NOT p."heldOut" AND p."activeBattles" < p."overlapTarget"
         AND (p."authorId" IS NULL OR p."authorId" <> ${labelerId})
         AND (${maxBytes}::int IS NULL OR octet_length(p.text) <= ${maxBytes}::int)
         AND NOT EXISTS (
           SELECT 1 FROM "Battle" mine WHERE mine."promptId" = p.id AND mine."labelerId" = ${labelerId})
       ORDER BY ${order}
       LIMIT 1
       ${lock}`;
  for (let attempt = 0; attempt < 8; attempt++) {
    // Never waits for a lock, so claims cannot deadlock; a prompt passed over below stays
    // locked until this short transaction ends, and other claims just skip it meanwhile.
    // Walks the partial index "Prompt_servable_idx": fullest first, then id order.
    const rows = await candidates(Prisma.sql`FOR NO KEY UPDATE OF p SKIP LOCKED`);
    if (rows.length === 0) {
      // Nothing unlocked: if others are claiming the last prompts, their claims may fail or
      // leave an overlap slot, so look again shortly rather than say "empty" while one remains.
      if ((await candidates(Prisma.empty)).length === 0) return null;
      await new Promise((r) => setTimeout(r, 5 + 10 * attempt));
      continue;
    }
    const { id, text, overlapTarget, hasCompletions } = rows[0]!;
    const [now] = await tx.$queryRaw<{ judged: number; mine: number }[]>`
      SELECT count(DISTINCT "labelerId") FILTER (WHERE status IN ('OPEN', 'VOTED'))::int AS judged,
             count(*) FILTER (WHERE "labelerId" = ${labelerId})::int AS mine
        FROM "Battle" WHERE "promptId" = ${id}`;
    if (now!.judged < overlapTarget && now!.mine === 0) return { id, text, hasCompletions };
  }
  return null;
}

/** Versions that served before (retired after a promotion or a rollback). */
async function earlierVersions(db: PrismaClient, servingId: number): Promise<number[]> {
  const rows = await db.policyVersion.findMany({
    where: { status: "RETIRED", promotedAt: { not: null }, id: { not: servingId } },
    select: { id: true },
  });
  return rows.map((r) => r.id);
}
