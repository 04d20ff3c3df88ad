// The admin's prompt pool: import a file (duplicates of existing prompts are reported, not
// added twice), list with search and per-prompt progress, enable/disable.
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { AppError } from "../../errors.ts";
import { getArenaSettings, poolOverlapTarget } from "../arena-settings/index.ts";
import { promptBytes, servingPromptLimit } from "./context-fit.ts";
import { detectFormat, type ImportFormat, parseImport, type RejectedLine } from "./parse-import.ts";

/** A file of a million bad lines gets the first ones and a count, not a million entries. */
export const MAX_REPORTED_REJECTIONS = 1000;

export interface ImportReport {
  format: ImportFormat;
  added: number;
  duplicates: number;
  /** the first MAX_REPORTED_REJECTIONS rejected lines, in line order */
  rejected: RejectedLine[];
  rejectedTotal: number;
}

export async function importPrompts(opts: {
  db: PrismaClient;
  content: string;
  filename?: string;
  format?: ImportFormat | "auto";
  overlapTarget?: number;
}): Promise<ImportReport> {
  const { db, content } = opts;
  const format = !opts.format || opts.format === "auto" ? detectFormat(opts.filename, content) : opts.format;
  const parsed = parseImport(content, format);
  const { arena } = await getArenaSettings({ db });
  const source = `import:${(opts.filename ?? "pasted").slice(0, 100)}`;

  const rejected = [...parsed.rejected];
  const limit = await servingPromptLimit(db);
  const fitting = parsed.prompts.filter((p) => {
    const bytes = limit ? promptBytes(p.text) : 0;
    if (!limit || bytes <= limit.maxBytes) return true;
    rejected.push({
      line: p.line,
      reason: `does not fit the context of ${limit.versionName}, the model being served (${bytes} bytes; at most ${limit.maxBytes})`,
      excerpt: p.text.slice(0, 80),
    });
    return false;
  });
  const seen = new Set<string>();
  const unique = fitting.filter((p) => {
    if (seen.has(p.text)) {
      rejected.push({ line: p.line, reason: "duplicate of an earlier line in this file", excerpt: p.text.slice(0, 80) });
      return false;
    }
    seen.add(p.text);
    return true;
  });
  const existing = new Set(
    unique.length
      ? (await db.prompt.findMany({ where: { text: { in: unique.map((p) => p.text) } }, select: { text: true } })).map((p) => p.text)
      : [],
  );
  const fresh = unique.filter((p) => !existing.has(p.text));
  if (fresh.length > 0) {
    await db.prompt.createMany({
      data: fresh.map((p) => ({
        text: p.text,
        source,
        overlapTarget: p.overlapTarget ?? opts.overlapTarget ?? poolOverlapTarget(p.text, arena),
      })),
    });
  }
  rejected.sort((a, b) => a.line - b.line);
  return {
    format,
    added: fresh.length,
    duplicates: unique.length - fresh.length,
    rejected: rejected.slice(0, MAX_REPORTED_REJECTIONS),
    rejectedTotal: rejected.length,
  };
}

export interface PromptRow {
  id: string;
  text: string;
  source: string;
  enabled: boolean;
  heldOut: boolean;
  overlapTarget: number;
  votes: number;
  createdAt: Date;
}

export async function listPrompts(opts: {
  db: PrismaClient;
  search?: string;
  status?: "all" | "enabled" | "disabled";
  page?: number;
  pageSize?: number;
}) {
  const { db } = opts;
  const pageSize = opts.pageSize ?? 50;
  const page = opts.page ?? 0;
  // Gold pairs' own prompt rows are managed on the quality page, not here.
  const where = {
    NOT: { source: { startsWith: "gold:" } },
    ...(opts.search ? { text: { contains: opts.search, mode: "insensitive" as const } } : {}),
    ...(opts.status === "enabled" ? { enabled: true } : opts.status === "disabled" ? { enabled: false } : {}),
  };
  const [total, rows] = await Promise.all([
    db.prompt.count({ where }),
    db.prompt.findMany({
      where,
      orderBy: [{ createdAt: "desc" }, { id: "asc" }],
      skip: page * pageSize,
      take: pageSize,
      select: {
        id: true,
        text: true,
        source: true,
        enabled: true,
        heldOut: true,
        overlapTarget: true,
        createdAt: true,
        battles: { where: { status: "VOTED" }, select: { id: true } },
      },
    }),
  ]);
  const prompts: PromptRow[] = rows.map(({ battles, ...p }) => ({ ...p, votes: battles.length }));
  return { total, page, pageSize, prompts };
}

export async function setPromptEnabled({ db, promptId, enabled }: { db: PrismaClient; promptId: string; enabled: boolean }) {
  const updated = await db.prompt.updateMany({ where: { id: promptId }, data: { enabled } });
  if (updated.count === 0) throw new AppError("NOT_FOUND", { userMessage: "That prompt does not exist." });
  return { promptId, enabled };
}
