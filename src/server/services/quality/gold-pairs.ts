// Gold pairs: import from JSONL, mark a finished battle as gold, list, activate/deactivate.
// Nothing is deleted. Each gold pair has its own prompt row (source "gold:<id>", disabled and held
// out, so never in the pool) for the battles that serve it (services/battles/gold.ts); the quality
// model matches votes to gold answers by the texts.
import { randomUUID } from "node:crypto";
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { AppError } from "../../errors.ts";
import { parseGoldJsonl, type RejectedGoldLine } from "./parse-gold.ts";

export interface GoldImportReport {
  added: number;
  duplicates: number;
  rejected: RejectedGoldLine[];
}

const key = (p: { promptText: string; completionA: string; completionB: string }) =>
  JSON.stringify([p.promptText, p.completionA, p.completionB]);

export async function importGoldPairs(opts: {
  db: PrismaClient;
  content: string;
  filename?: string;
  createdById: string;
}): Promise<GoldImportReport> {
  const { db } = opts;
  const parsed = parseGoldJsonl(opts.content);
  const rejected = [...parsed.rejected];
  const seen = new Set<string>();
  const unique = parsed.pairs.filter((p) => {
    const k = key(p);
    if (seen.has(k)) {
      rejected.push({
        line: p.line,
        reason: "same prompt and completions as an earlier line in this file",
        excerpt: p.promptText.slice(0, 80),
      });
      return false;
    }
    seen.add(k);
    return true;
  });
  // Same prompt and completions as a stored gold pair (active or not): not added twice.
  const existing = unique.length
    ? new Set(
        (
          await db.goldPair.findMany({
            where: { promptText: { in: [...new Set(unique.map((p) => p.promptText))] } },
            select: { promptText: true, completionA: true, completionB: true },
          })
        ).map(key),
      )
    : new Set<string>();
  const fresh = unique.filter((p) => !existing.has(key(p)));
  const source = `import:${(opts.filename ?? "pasted").slice(0, 100)}`;
  if (fresh.length) {
    const rows = fresh.map((p) => ({ ...p, id: randomUUID() }));
    await db.$transaction([
      db.prompt.createMany({ data: rows.map((p) => goldPromptRow(p.id, p.promptText)) }),
      db.goldPair.createMany({
        data: rows.map((p) => ({
          id: p.id,
          promptText: p.promptText,
          completionA: p.completionA,
          completionB: p.completionB,
          expected: p.expected,
          note: p.note,
          source,
          createdById: opts.createdById,
          promptId: goldPromptId(p.id),
        })),
      }),
    ]);
  }
  rejected.sort((a, b) => a.line - b.line);
  return { added: fresh.length, duplicates: unique.length - fresh.length, rejected };
}

export async function listGoldPairs(opts: { db: PrismaClient; status?: "all" | "active" | "inactive"; page?: number; pageSize?: number }) {
  const { db } = opts;
  const page = opts.page ?? 0;
  const pageSize = opts.pageSize ?? 50;
  const where = opts.status === "active" ? { active: true } : opts.status === "inactive" ? { active: false } : {};
  const [total, active, rows] = await Promise.all([
    db.goldPair.count({ where }),
    db.goldPair.count({ where: { active: true } }),
    db.goldPair.findMany({
      where,
      orderBy: [{ createdAt: "desc" }, { id: "asc" }],
      skip: page * pageSize,
      take: pageSize,
      select: {
        id: true,
        promptText: true,
        completionA: true,
        completionB: true,
        expected: true,
        note: true,
        source: true,
        active: true,
        createdAt: true,
        createdBy: { select: { username: true } },
      },
    }),
  ]);
  return {
    total,
    active,
    page,
    pageSize,
    pairs: rows.map(({ createdBy, ...p }) => ({ ...p, createdBy: createdBy?.username ?? null })),
  };
}

export async function setGoldPairActive(opts: { db: PrismaClient; goldPairId: string; active: boolean }) {
  const updated = await opts.db.goldPair.updateMany({ where: { id: opts.goldPairId }, data: { active: opts.active } });
  if (updated.count === 0) throw new AppError("NOT_FOUND", { userMessage: "No gold pair with that id." });
  return { id: opts.goldPairId, active: opts.active };
}

const goldPromptId = (goldPairId: string) => `gold-${goldPairId}`;
/** A gold pair's own prompt: never in the pool (disabled and held out), named by its source. */
const goldPromptRow = (goldPairId: string, text: string) => ({
  id: goldPromptId(goldPairId),
  text,
  source: `gold:${goldPairId}`,
  overlapTarget: 1,
  enabled: false,
  heldOut: true,
});

/**
 * Makes a finished (voted) battle's pair a gold pair with the admin's answer: the prompt and the
 * two completions exactly as that labeler saw them (A left, B right). Its original vote stays an
 * ordinary vote; later labelers get the pair as a gold battle.
 */
export async function markBattleGold(opts: {
  db: PrismaClient;
  battleId: string;
  expected: "A" | "B" | "TIE";
  note?: string;
  createdById: string;
}) {
  const { db } = opts;
  const battle = await db.battle.findUnique({
    where: { id: opts.battleId },
    select: {
      status: true,
      goldPairId: true,
      prompt: { select: { text: true } },
      completions: { select: { slot: true, text: true } },
    },
  });
  if (!battle) throw new AppError("NOT_FOUND", { userMessage: "No battle with that id." });
  if (battle.goldPairId) throw new AppError("CONFLICT", { userMessage: "This battle already served a gold pair." });
  const a = battle.completions.find((c) => c.slot === "A")?.text;
  const b = battle.completions.find((c) => c.slot === "B")?.text;
  if (battle.status !== "VOTED" || a === undefined || b === undefined)
    throw new AppError("CONFLICT", { userMessage: "Only a finished (voted) battle can be marked as gold." });
  if (a === b)
    throw new AppError("CONFLICT", { userMessage: "Both completions of this battle are the same text; it cannot check anyone." });
  const stored = await db.goldPair.findFirst({
    where: { promptText: battle.prompt.text, completionA: { in: [a, b] }, completionB: { in: [a, b] } },
    select: { id: true },
  });
  if (stored) throw new AppError("CONFLICT", { userMessage: "This pair is already a gold pair." });
  const id = randomUUID();
  await db.$transaction([
    db.prompt.create({ data: goldPromptRow(id, battle.prompt.text) }),
    db.goldPair.create({
      data: {
        id,
        promptText: battle.prompt.text,
        completionA: a,
        completionB: b,
        expected: opts.expected,
        note: opts.note?.trim() || null,
        source: `battle:${opts.battleId}`,
        createdById: opts.createdById,
        promptId: goldPromptId(id),
      },
    }),
  ]);
  return { goldPairId: id };
}

/** The newest voted battles that are not gold themselves, for the admin to mark as gold. */
export async function recentFinishedBattles(opts: { db: PrismaClient; limit?: number }) {
  const rows = await opts.db.battle.findMany({
    where: { status: "VOTED", goldPairId: null, vote: { isNot: null } },
    // newest vote first (every listed battle has one; finishedAt may be unset on imported rows,
    // and PostgreSQL sorts NULLs first in descending order)
    orderBy: [{ vote: { createdAt: "desc" } }, { id: "asc" }],
    take: opts.limit ?? 20,
    select: {
      id: true,
      finishedAt: true,
      prompt: { select: { text: true } },
      completions: { select: { slot: true, text: true } },
      vote: { select: { choice: true } },
      labeler: { select: { username: true } },
    },
  });
  return rows.map((r) => ({
    battleId: r.id,
    finishedAt: r.finishedAt,
    promptText: r.prompt.text,
    completionA: r.completions.find((c) => c.slot === "A")?.text ?? "",
    completionB: r.completions.find((c) => c.slot === "B")?.text ?? "",
    choice: r.vote?.choice ?? null,
    labeler: r.labeler.username,
  }));
}
