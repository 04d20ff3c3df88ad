// POST /v1/preferences: a program's vote on two completions the API served to the same key for
// the same prompt. Stored append-only in ApiPreference; A/B are decisive pairs for training
// (source "api"), tie and both-bad are kept but are not pairs, as with arena votes.
import { z } from "zod";
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { badRequest, OpenAiError } from "./openai-errors.ts";

const CHOICES = { a: "A", b: "B", tie: "TIE", both_bad: "BOTH_BAD" } as const;
type ApiChoice = keyof typeof CHOICES;
const FLIP = { A: "B", B: "A", TIE: "TIE", BOTH_BAD: "BOTH_BAD" } as const;
const TO_API = { A: "a", B: "b", TIE: "tie", BOTH_BAD: "both_bad" } as const;

export const preferenceSchema = z
  .object({
    completion_a: z
      .string({ message: "completion_a must be a completion_id from /v1/chat/completions or /v1/completions" })
      .min(1)
      .max(100),
    completion_b: z
      .string({ message: "completion_b must be a completion_id from /v1/chat/completions or /v1/completions" })
      .min(1)
      .max(100),
    choice: z.enum(["a", "b", "tie", "both_bad"], { message: "choice must be a, b, tie or both_bad" }),
  })
  .strict();

export interface PreferenceRecord {
  id: string;
  object: "preference";
  created: number;
  completion_a: string;
  completion_b: string;
  choice: ApiChoice;
}

/** A bare response id (no ".<index>") means its first choice. */
function completionId(id: string): string {
  return /\.\d+$/.test(id) ? id : `${id}.0`;
}

export async function recordApiPreference(opts: {
  db: PrismaClient;
  apiKeyId: string;
  completionA: string;
  completionB: string;
  choice: ApiChoice;
}): Promise<{ created: boolean; record: PreferenceRecord }> {
  const { db, apiKeyId } = opts;
  const a = completionId(opts.completionA);
  const b = completionId(opts.completionB);
  if (a === b) throw badRequest("completion_a and completion_b are the same completion; a preference compares two.", "completion_b");
  const rows = await db.apiCompletion.findMany({ where: { id: { in: [a, b] }, apiKeyId }, select: { id: true, promptTokenIds: true } });
  for (const [id, param] of [
    [a, "completion_a"],
    [b, "completion_b"],
  ] as const) {
    // Another key's completion gets the same answer as an unknown one: ids are not shared.
    if (!rows.some((r) => r.id === id))
      throw new OpenAiError(
        404,
        `No completion '${id}' was served to this API key.`,
        "invalid_request_error",
        param,
        "completion_not_found",
      );
  }
  const [ra, rb] = [rows.find((r) => r.id === a)!, rows.find((r) => r.id === b)!];
  if (ra.promptTokenIds.length !== rb.promptTokenIds.length || ra.promptTokenIds.some((t, i) => t !== rb.promptTokenIds[i])) {
    throw badRequest(
      "The two completions answer different prompts; a preference compares two completions of the same prompt.",
      "completion_b",
      "prompt_mismatch",
    );
  }
  // One row per unordered pair, the smaller id first (the table's CHECK): flip the choice to match.
  const inOrder = a < b;
  const choice = inOrder ? CHOICES[opts.choice] : FLIP[CHOICES[opts.choice]];
  const [first, second] = inOrder ? [a, b] : [b, a];
  const toRecord = (p: { id: string; createdAt: Date; choice: keyof typeof FLIP }): PreferenceRecord => ({
    id: p.id,
    object: "preference",
    created: Math.floor(p.createdAt.getTime() / 1000),
    completion_a: a,
    completion_b: b,
    choice: TO_API[inOrder ? p.choice : FLIP[p.choice]],
  });
  const inserted = await db.$queryRaw<{ id: string; createdAt: Date; choice: keyof typeof FLIP }[]>`
    INSERT INTO "ApiPreference" (id, "apiKeyId", "completionAId", "completionBId", choice)
    VALUES (${`pref_${crypto.randomUUID().replaceAll("-", "")}`}, ${apiKeyId}, ${first}, ${second}, ${choice}::"VoteChoice")
    ON CONFLICT ("completionAId", "completionBId") DO NOTHING
    RETURNING id, "createdAt", choice::text AS choice`;
  if (inserted[0]) return { created: true, record: toRecord(inserted[0]) };
  const existing = await db.apiPreference.findUniqueOrThrow({
    where: { completionAId_completionBId: { completionAId: first, completionBId: second } },
    select: { id: true, createdAt: true, choice: true },
  });
  // A retried request is the same vote; a different choice on a voted pair is a conflict.
  if (existing.choice !== choice)
    throw new OpenAiError(
      409,
      `These two completions already have a preference (${existing.id}) with a different choice; preferences are append-only.`,
      "invalid_request_error",
      "choice",
      "preference_exists",
    );
  return { created: false, record: toRecord(existing) };
}
