// Registering, listing and removing external contestants, and their reachability status.
// Routers and the CLI call these; the battle code reads contestants through pick.ts.
import { z } from "zod";
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { getEnv } from "../../env.ts";
import { AppError } from "../../errors.ts";
import { type ContestantEndpoint, ContestantError, describeFailure, probeEndpoint } from "./client.ts";
import { decryptApiKey, encryptApiKey, missingSecretKey, parseSecretKey } from "./secret.ts";

export const CONTESTANT_APIS = ["chat", "completions"] as const;

export const contestantInputSchema = z
  .object({
    name: z
      .string()
      .trim()
      .min(1, "Name the contestant (its leaderboard entry)")
      .max(64, "The name must be at most 64 characters")
      .regex(/^[\p{L}\p{N} ._:/+@-]+$/u, "The name may hold letters, digits, spaces and . _ : / + @ -")
      .refine((n) => !/^v\d+$/i.test(n), "Names like v0, v1, … are the policy versions' names; choose another"),
    baseUrl: z
      .string()
      .trim()
      .max(500, "The base URL must be at most 500 characters")
      .refine((u) => {
        try {
          const url = new URL(u);
          return (url.protocol === "http:" || url.protocol === "https:") && !url.username && !url.password && !url.search && !url.hash;
        } catch {
          return false;
        }
      }, "The base URL must be an http(s) URL without credentials or query, e.g. http://gpu-box:8000/v1")
      .transform((u) => u.replace(/\/+$/, "")),
    model: z.string().trim().min(1, "Give the model name the endpoint expects").max(200, "The model name must be at most 200 characters"),
    api: z.enum(CONTESTANT_APIS, { message: "api is chat or completions" }).default("chat"),
    apiKey: z
      .string()
      .trim()
      .max(1000, "The API key must be at most 1000 characters")
      .optional()
      .transform((k) => (k ? k : undefined)),
  })
  .strict();
export type ContestantInput = z.input<typeof contestantInputSchema>;

export interface ContestantSummary {
  id: number;
  name: string;
  baseUrl: string;
  model: string;
  api: string;
  hasApiKey: boolean;
  enabled: boolean;
  /** "ok" (last call succeeded), "unreachable" (last call failed), "unknown" (never called) */
  status: "ok" | "unreachable" | "unknown";
  lastSuccessAt: Date | null;
  lastErrorAt: Date | null;
  lastError: string | null;
  battles: number;
  votes: number;
  createdAt: Date;
}

function secretKey(): Buffer | null {
  const value = getEnv().CONTESTANT_SECRET_KEY;
  return value ? parseSecretKey(value) : null;
}

export function statusOf(c: { lastSuccessAt: Date | null; lastErrorAt: Date | null }): ContestantSummary["status"] {
  if (c.lastErrorAt && (!c.lastSuccessAt || c.lastErrorAt > c.lastSuccessAt)) return "unreachable";
  return c.lastSuccessAt ? "ok" : "unknown";
}

export async function addContestant({ db, input }: { db: PrismaClient; input: ContestantInput }): Promise<ContestantSummary> {
  const parsed = contestantInputSchema.safeParse(input);
  if (!parsed.success) throw new AppError("INVALID_REQUEST", { userMessage: parsed.error.issues.map((i) => i.message).join("; ") });
  const { name, baseUrl, model, api, apiKey } = parsed.data;
  let apiKeyEncrypted: string | null = null;
  if (apiKey) {
    const key = secretKey();
    if (!key) throw missingSecretKey();
    apiKeyEncrypted = encryptApiKey(apiKey, key);
  }
  const clash = await db.contestant.findUnique({ where: { name }, select: { removedAt: true } });
  if (clash)
    throw new AppError("CONFLICT", {
      userMessage: clash.removedAt
        ? `A removed contestant was called "${name}" and its ratings keep that name; choose another.`
        : `A contestant called "${name}" exists already.`,
    });
  const created = await db.contestant.create({ data: { name, baseUrl, model, api, apiKeyEncrypted }, select: { id: true } });
  return (await listContestants({ db, ids: [created.id] }))[0]!;
}

export async function listContestants({ db, ids }: { db: PrismaClient; ids?: number[] }): Promise<ContestantSummary[]> {
  const rows = await db.contestant.findMany({
    where: { removedAt: null, ...(ids ? { id: { in: ids } } : {}) },
    orderBy: { id: "asc" },
    select: {
      id: true,
      name: true,
      baseUrl: true,
      model: true,
      api: true,
      apiKeyEncrypted: true,
      enabled: true,
      lastSuccessAt: true,
      lastErrorAt: true,
      lastError: true,
      createdAt: true,
    },
  });
  const counts = await db.$queryRaw<{ id: number; battles: number; votes: number }[]>`
    SELECT b."contestantId" AS id, count(*)::int AS battles, count(v.id)::int AS votes
      FROM "Battle" b LEFT JOIN "Vote" v ON v."battleId" = b.id
     WHERE b."contestantId" IS NOT NULL
     GROUP BY b."contestantId"`;
  const byId = new Map(counts.map((c) => [c.id, c]));
  return rows.map(({ apiKeyEncrypted, ...r }) => ({
    ...r,
    hasApiKey: apiKeyEncrypted !== null,
    status: statusOf(r),
    battles: byId.get(r.id)?.battles ?? 0,
    votes: byId.get(r.id)?.votes ?? 0,
  }));
}

async function findActive(db: PrismaClient, id: number) {
  const c = await db.contestant.findFirst({ where: { id, removedAt: null } });
  if (!c) throw new AppError("NOT_FOUND", { userMessage: `There is no contestant ${id}.` });
  return c;
}

/**
 * Takes the contestant out of the arena for good. Its row stays (battles and votes refer to it,
 * and its leaderboard entry keeps its ratings); a new contestant cannot take its name.
 */
export async function removeContestant({ db, id }: { db: PrismaClient; id: number }): Promise<{ id: number; name: string }> {
  const c = await findActive(db, id);
  await db.contestant.update({ where: { id }, data: { removedAt: new Date(), enabled: false } });
  return { id, name: c.name };
}

export async function setContestantEnabled({ db, id, enabled }: { db: PrismaClient; id: number; enabled: boolean }) {
  await findActive(db, id);
  await db.contestant.update({ where: { id }, data: { enabled } });
  return (await listContestants({ db, ids: [id] }))[0]!;
}

/** What a request to the contestant needs; the key is decrypted only here, just before use. */
export function endpointOf(c: { baseUrl: string; model: string; api: string; apiKeyEncrypted: string | null }): ContestantEndpoint {
  let apiKey: string | null = null;
  if (c.apiKeyEncrypted) {
    const key = secretKey();
    if (!key) throw new ContestantError("its API key is stored encrypted, but CONTESTANT_SECRET_KEY is not set on this server");
    try {
      apiKey = decryptApiKey(c.apiKeyEncrypted, key);
    } catch (err) {
      throw new ContestantError((err as Error).message);
    }
  }
  return { baseUrl: c.baseUrl, model: c.model, api: c.api === "completions" ? "completions" : "chat", apiKey };
}

export async function recordSuccess(db: PrismaClient, id: number): Promise<void> {
  await db.contestant.update({ where: { id }, data: { lastSuccessAt: new Date() } });
}

export async function recordFailure(db: PrismaClient, id: number, err: unknown): Promise<string> {
  const message = describeFailure(err);
  await db.contestant.update({ where: { id }, data: { lastErrorAt: new Date(), lastError: message } });
  return message;
}

/** The admin's "check now": GET <baseUrl>/models, recorded like a battle's call. */
export async function checkContestant({ db, id, timeoutMs = 10_000 }: { db: PrismaClient; id: number; timeoutMs?: number }) {
  const c = await findActive(db, id);
  try {
    await probeEndpoint(endpointOf(c), timeoutMs);
    await recordSuccess(db, id);
  } catch (err) {
    await recordFailure(db, id, err);
  }
  return (await listContestants({ db, ids: [id] }))[0]!;
}
