// Gold pairs: import from JSONL, list, activate/deactivate. Nothing is deleted. Serving them in
// the arena is not built yet; the quality model already checks votes on identical pairs.
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
    await db.goldPair.createMany({
      data: fresh.map((p) => ({
        promptText: p.promptText,
        completionA: p.completionA,
        completionB: p.completionB,
        expected: p.expected,
        note: p.note,
        source,
        createdById: opts.createdById,
      })),
    });
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
