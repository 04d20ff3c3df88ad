// Importing a preference dataset (TRL or Anthropic HH JSON lines) as offline DPO pairs: parsed
// (parse.ts), tokenized with the serving model's tokenizer exactly as a round conditions on a
// prompt, and stored whole, or not at all when any line is rejected (the report names each
// rejected line and why, the first MAX_REPORTED_REJECTIONS of them).
//
// The pairs are tied to the serving lineage's root (its tokenizer); a round uses them only with
// the `importedPairs` loop setting on (rounds/offline-pairs.ts). They are not votes: nothing that
// rates versions or labelers reads these tables.
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { encodeChat, encodePrompt, loadTokenizer, type Tokenizer } from "../../../lm/index.ts";
import { AppError } from "../../errors.ts";
import type { CheckpointStore } from "../../policy/checkpoint-store.ts";
import { contextTokensOf } from "../prompts/context-fit.ts";
import { type ParsedPreference, type PreferenceFormat, parsePreferences, type RejectedLine } from "./parse.ts";

/** A file of a million bad lines gets the first ones and a count, not a million entries. */
export const MAX_REPORTED_REJECTIONS = 1000;
/** Rows per INSERT: keeps each statement well under PostgreSQL's 65,535 bind parameters. */
const INSERT_CHUNK = 1000;

export interface PreferenceImportReport {
  /** the stored import; null when the file was rejected */
  importId: string | null;
  format: PreferenceFormat;
  imported: number;
  /** the first MAX_REPORTED_REJECTIONS rejected lines, in line order */
  rejected: RejectedLine[];
  rejectedTotal: number;
  /** the version whose tokenizer the pairs were (or would have been) tokenized with */
  tokenizedFor: string | null;
}

export interface TokenizedPreference extends ParsedPreference {
  promptTokenIds: number[];
  chosenTokenIds: number[];
  rejectedTokenIds: number[];
}

/**
 * The ids a round trains on: the prompt as the arena or the API conditions on it (a chat
 * template's rendering of the conversation when the model has one), each answer followed by EOS.
 */
export function tokenizePreference(tok: Tokenizer, p: ParsedPreference): TokenizedPreference {
  const promptTokenIds = p.promptMessages ? encodeChat(tok, p.promptMessages, p.prompt).ids : encodePrompt(tok, p.prompt);
  return {
    ...p,
    promptTokenIds,
    chosenTokenIds: [...tok.encode(p.chosen), tok.eos],
    rejectedTokenIds: [...tok.encode(p.rejected), tok.eos],
  };
}

async function servingLineage(db: PrismaClient) {
  const serving = await db.policyVersion.findFirst({
    where: { status: "SERVING" },
    select: { id: true, name: true, parentId: true, checkpointUri: true, modelConfig: true },
  });
  if (!serving)
    throw new AppError("CONFLICT", {
      userMessage: "No model is being served: serve one (Admin → Models) before importing preference data.",
    });
  let rootId = serving.id;
  let parentId = serving.parentId;
  while (parentId !== null) {
    const parent = await db.policyVersion.findUniqueOrThrow({ where: { id: parentId }, select: { id: true, parentId: true } });
    rootId = parent.id;
    parentId = parent.parentId;
  }
  return { serving, rootId };
}

export async function importPreferences(opts: {
  db: PrismaClient;
  store: CheckpointStore;
  content: string;
  format: PreferenceFormat;
  filename?: string;
  createdById?: string;
}): Promise<PreferenceImportReport> {
  const { db, format } = opts;
  const parsed = parsePreferences(opts.content, format);
  if (parsed.pairs.length === 0 && parsed.rejected.length === 0)
    throw new AppError("INVALID_REQUEST", { userMessage: "The file has no preference lines." });
  const { serving, rootId } = await servingLineage(db);
  let tok: Tokenizer;
  try {
    tok = await loadTokenizer(await opts.store.localPath(serving.checkpointUri));
  } catch (err) {
    throw new AppError("CONFLICT", {
      message: `preference import: cannot read the tokenizer of ${serving.name}: ${(err as Error).message}`,
      userMessage: `The tokenizer of ${serving.name}, the model being served, cannot be read, so the pairs cannot be prepared for it.`,
      cause: err,
    });
  }
  const context = contextTokensOf(serving.modelConfig);
  const rejected = [...parsed.rejected];
  const pairs: TokenizedPreference[] = [];
  for (const p of parsed.pairs) {
    const t = tokenizePreference(tok, p);
    const excerpt = p.prompt.slice(0, 80);
    if (context !== null && t.promptTokenIds.length >= context) {
      rejected.push({
        line: p.line,
        reason: `the prompt is ${t.promptTokenIds.length} tokens; ${serving.name}'s context is ${context}, so no answer fits after it`,
        excerpt,
      });
    } else if (t.chosenTokenIds.length === t.rejectedTokenIds.length && t.chosenTokenIds.every((id, i) => id === t.rejectedTokenIds[i])) {
      rejected.push({ line: p.line, reason: "chosen and rejected are the same tokens for this model", excerpt });
    } else {
      pairs.push(t);
    }
  }
  if (rejected.length) {
    rejected.sort((a, b) => a.line - b.line);
    return {
      importId: null,
      format,
      imported: 0,
      rejected: rejected.slice(0, MAX_REPORTED_REJECTIONS),
      rejectedTotal: rejected.length,
      tokenizedFor: serving.name,
    };
  }
  const importId = await db.$transaction(
    async (tx) => {
      const created = await tx.preferenceImport.create({
        data: {
          filename: (opts.filename ?? "pasted").slice(0, 200),
          format,
          pairCount: pairs.length,
          rootVersionId: rootId,
          createdById: opts.createdById ?? null,
        },
        select: { id: true },
      });
      for (let i = 0; i < pairs.length; i += INSERT_CHUNK) {
        await tx.importedPair.createMany({
          data: pairs.slice(i, i + INSERT_CHUNK).map((p) => ({
            importId: created.id,
            line: p.line,
            prompt: p.prompt,
            promptMessages: p.promptMessages ? p.promptMessages.map((m) => ({ role: m.role, content: m.content })) : undefined,
            chosen: p.chosen,
            rejected: p.rejected,
            promptTokenIds: p.promptTokenIds,
            chosenTokenIds: p.chosenTokenIds,
            rejectedTokenIds: p.rejectedTokenIds,
          })),
        });
      }
      return created.id;
    },
    { timeout: 120_000 },
  );
  return { importId, format, imported: pairs.length, rejected: [], rejectedTotal: 0, tokenizedFor: serving.name };
}

export interface PreferenceImportRow {
  id: string;
  filename: string;
  format: string;
  pairCount: number;
  createdAt: Date;
  /** the lineage root the pairs were tokenized for */
  rootVersion: string;
  /** pairs that some round has trained on */
  used: number;
}

/** The imports, newest first, with how many of each import's pairs rounds have trained on. */
export async function listPreferenceImports(opts: { db: PrismaClient; limit?: number }): Promise<PreferenceImportRow[]> {
  const rows = await opts.db.$queryRaw<(Omit<PreferenceImportRow, "used"> & { used: bigint })[]>`
    SELECT pi.id, pi.filename, pi.format, pi."pairCount", pi."createdAt", pv.name AS "rootVersion",
           (SELECT count(DISTINCT ip.id) FROM "ImportedPair" ip JOIN "RoundVote" rv ON rv."voteId" = ip.id AND rv.split = 'TRAIN'
             WHERE ip."importId" = pi.id) AS used
      FROM "PreferenceImport" pi JOIN "PolicyVersion" pv ON pv.id = pi."rootVersionId"
     ORDER BY pi."createdAt" DESC, pi.id
     LIMIT ${opts.limit ?? 100}`;
  return rows.map((r) => ({ ...r, used: Number(r.used) }));
}
