// API keys: created and revoked by admins, presented by programs as `Authorization: Bearer`.
//
// Only sha256(key) is stored. A key is 32 bytes from the OS CSPRNG (256 bits), so nobody can
// guess one or brute-force a leaked hash: a slow password hash (argon2) protects low-entropy
// human secrets and would add tens of milliseconds of CPU to every API request for nothing,
// and an unsalted fast hash is what lets a request find its key with one indexed lookup.
import { createHash, randomBytes } from "node:crypto";
import { z } from "zod";
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { AppError } from "../../errors.ts";

export const API_KEY_SCOPES = ["inference", "export", "vote", "admin"] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

const KEY_PREFIX = "dpa_";
/** characters of the key kept in clear for display: "dpa_" and 6 of the random part */
const SHOWN_CHARS = KEY_PREFIX.length + 6;

export const apiKeyNameSchema = z
  .string()
  .trim()
  .min(1, "Name the key (who or what uses it)")
  .max(80, "The name must be at most 80 characters");
export const apiKeyScopesSchema = z
  .array(z.enum(API_KEY_SCOPES, { message: `Scopes are ${API_KEY_SCOPES.join(", ")}` }))
  .min(1, "Give the key at least one scope")
  .transform((s) => [...new Set(s)].sort());
export const rateLimitSchema = z
  .number()
  .int("The rate limit must be a whole number")
  .min(1, "The rate limit must be ≥ 1 per minute")
  .max(100_000, "The rate limit must be ≤ 100000 per minute");

export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

/** `admin` is every scope; the others grant only themselves. */
export function hasScope(scopes: readonly string[], needed: ApiKeyScope): boolean {
  return scopes.includes(needed) || scopes.includes("admin");
}

export interface ApiKeySummary {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  rateLimitPerMinute: number;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

const summarySelect = {
  id: true,
  name: true,
  prefix: true,
  scopes: true,
  rateLimitPerMinute: true,
  createdAt: true,
  lastUsedAt: true,
  revokedAt: true,
} as const;

export async function createApiKey(opts: {
  db: PrismaClient;
  name: string;
  scopes: string[];
  rateLimitPerMinute?: number;
  createdById?: string | null;
}): Promise<{ key: string; apiKey: ApiKeySummary }> {
  const name = apiKeyNameSchema.parse(opts.name);
  const scopes = apiKeyScopesSchema.parse(opts.scopes);
  const rateLimitPerMinute = rateLimitSchema.parse(opts.rateLimitPerMinute ?? 60);
  const key = KEY_PREFIX + randomBytes(32).toString("base64url");
  const apiKey = await opts.db.apiKey.create({
    data: {
      name,
      scopes,
      rateLimitPerMinute,
      prefix: key.slice(0, SHOWN_CHARS),
      hash: hashApiKey(key),
      createdById: opts.createdById ?? null,
    },
    select: summarySelect,
  });
  return { key, apiKey };
}

export function listApiKeys({ db }: { db: PrismaClient }): Promise<ApiKeySummary[]> {
  return db.apiKey.findMany({ select: summarySelect, orderBy: [{ revokedAt: { sort: "desc", nulls: "first" } }, { createdAt: "desc" }] });
}

/** Revocation is immediate on every replica: each request reads its key's row. */
export async function revokeApiKey({ db, id }: { db: PrismaClient; id: string }): Promise<ApiKeySummary> {
  const found = await db.apiKey.findUnique({ where: { id }, select: { revokedAt: true } });
  if (!found) throw new AppError("NOT_FOUND", { userMessage: "That API key does not exist." });
  if (found.revokedAt) throw new AppError("CONFLICT", { userMessage: "That API key is already revoked." });
  return db.apiKey.update({ where: { id }, data: { revokedAt: new Date() }, select: summarySelect });
}
