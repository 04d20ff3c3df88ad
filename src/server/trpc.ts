// The tRPC foundation: context (who is calling), procedure builders that enforce roles, and
// the error formatter that decides what a client may see. Routers live in ./routers.
import { initTRPC, TRPCError } from "@trpc/server";
import superjson from "superjson";
import type { PrismaClient } from "../generated/prisma/client.ts";
import { clientAddressFrom } from "./auth/client-address.ts";
import { getSessionUser, isHttpsRequest, readCookie, SESSION_COOKIE, type SessionUser } from "./auth/session.ts";
import { db as defaultDb } from "./db/client.ts";
import { isConnectionLost, isDatabaseUnavailable, retryOnConnectionLoss } from "./db/connection-lost.ts";
import { isUniqueViolation } from "./db/unique-violation.ts";
import { getEnv } from "./env.ts";
import { APP_ERROR_TABLE, AppError, internalErrorMessage, newErrorId } from "./errors.ts";
import { type Logger, log } from "./log.ts";

export interface TrpcContext {
  db: PrismaClient;
  user: SessionUser | null;
  /** The raw cookie token, needed to end this session on sign-out. */
  sessionToken: string | null;
  /** Set-Cookie and other response headers a procedure wants to add. */
  resHeaders: Headers;
  secureCookies: boolean;
  sessionTtlHours: number;
  clientAddress: string;
  log: Logger;
}

/** Builds a context from explicit parts; tests call this with their own database. */
export async function createContextInner(options: {
  db: PrismaClient;
  headers: Headers;
  resHeaders?: Headers;
  url?: string;
  sessionTtlHours: number;
  /** reverse proxies in front (TRUSTED_PROXIES); decides which X-Forwarded-For entry is the client */
  trustedProxies?: number;
}): Promise<TrpcContext> {
  const { db, headers } = options;
  const sessionToken = readCookie(headers.get("cookie"), SESSION_COOKIE) ?? null;
  // A read: safe to repeat on a fresh connection if the database dropped this one.
  const session = sessionToken
    ? await retryOnConnectionLoss(() => getSessionUser({ db, token: sessionToken })).catch((err: unknown) => {
        // Database down or restarting: a 503 that says to retry, not an internal error.
        if (isDatabaseUnavailable(err)) {
          throw new TRPCError({ code: APP_ERROR_TABLE.UNAVAILABLE.trpc, message: APP_ERROR_TABLE.UNAVAILABLE.userMessage, cause: err });
        }
        throw err;
      })
    : null;
  const clientAddress = clientAddressFrom(headers, options.trustedProxies ?? 0);
  return {
    db,
    user: session?.user ?? null,
    sessionToken,
    resHeaders: options.resHeaders ?? new Headers(),
    secureCookies: isHttpsRequest(headers, options.url),
    sessionTtlHours: options.sessionTtlHours,
    clientAddress,
    log: log.child({ userId: session?.user.id }),
  };
}

/** The production context for the fetch adapter. */
export function createContext(options: { req: Request; resHeaders: Headers }): Promise<TrpcContext> {
  return createContextInner({
    db: defaultDb,
    headers: options.req.headers,
    resHeaders: options.resHeaders,
    url: options.req.url,
    sessionTtlHours: getEnv().SESSION_TTL_HOURS,
    trustedProxies: getEnv().TRUSTED_PROXIES,
  });
}

export interface FieldErrors {
  formErrors: string[];
  fieldErrors: Record<string, string[]>;
}

/** Works for ZodError and Standard Schema errors alike: both carry issues with a path. */
function flattenIssues(cause: unknown): FieldErrors | null {
  const issues = (cause as { issues?: unknown } | undefined)?.issues;
  if (!Array.isArray(issues)) return null;
  const flat: FieldErrors = { formErrors: [], fieldErrors: {} };
  for (const issue of issues as { path?: unknown[]; message?: string }[]) {
    const message = typeof issue.message === "string" ? issue.message : "Invalid value";
    const path = (issue.path ?? [])
      .map((p) => (typeof p === "object" && p !== null && "key" in p ? String((p as { key: unknown }).key) : String(p)))
      .join(".");
    if (!path) flat.formErrors.push(message);
    else (flat.fieldErrors[path] ??= []).push(message);
  }
  return flat;
}

function summarize(flat: FieldErrors): string {
  const parts = [...flat.formErrors, ...Object.entries(flat.fieldErrors).map(([field, msgs]) => `${field}: ${msgs.join("; ")}`)];
  return `Invalid input: ${parts.join(" | ")}`.slice(0, 1000);
}

/** Who may call a procedure; set by the builders below so tests can enumerate it. */
export type Access = "public" | "labeler" | "admin";
export interface ProcedureMeta {
  access: Access;
}

const t = initTRPC
  .context<TrpcContext>()
  .meta<ProcedureMeta>()
  .create({
    transformer: superjson,
    errorFormatter({ shape, error, path }) {
      if (error.code === "INTERNAL_SERVER_ERROR") {
        // The internal message and stack go to the log only; the client gets an id to quote.
        const errorId = newErrorId();
        log.error("trpc: unhandled error", { errorId, path, err: error.cause ?? error });
        return {
          ...shape,
          message: internalErrorMessage(errorId),
          data: { code: shape.data.code, httpStatus: 500, path: shape.data.path, errorId, zodError: null },
        };
      }
      const zodError = error.code === "BAD_REQUEST" ? flattenIssues(error.cause) : null;
      return {
        ...shape,
        message: zodError ? summarize(zodError) : shape.message,
        data: { code: shape.data.code, httpStatus: shape.data.httpStatus, path: shape.data.path, errorId: null, zodError },
      };
    },
  });

function prismaErrorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^P\d{4}$/.test(code) ? code : undefined;
}

/** Mutations that are safe to run again: a vote carries an idempotency key. */
const IDEMPOTENT_MUTATIONS = new Set(["arena.vote"]);

/**
 * AppError → its tRPC code and user message; a few Prisma outcomes → what they mean. A read (or
 * an idempotent mutation) that failed because the database dropped its connection runs again
 * (at most CONNECTION_RETRIES times): the pool discards dead connections, so a retry gets a
 * fresh one.
 */
const CONNECTION_RETRIES = 2;
const RETRY_PAUSE_MS = 25;
const mapErrors = t.middleware(async ({ ctx, next, path, type }) => {
  const started = performance.now();
  let result = await next();
  // Up to two more tries, a moment apart: when every pooled connection was terminated at once,
  // the first retry can still draw one whose termination the pool has not noticed yet.
  for (let attempt = 1; attempt <= CONNECTION_RETRIES; attempt++) {
    if (result.ok || !(type === "query" || IDEMPOTENT_MUTATIONS.has(path)) || !isConnectionLost(result.error.cause ?? result.error)) break;
    ctx.log.warn("trpc: database connection lost; retrying", { path, attempt });
    await new Promise((r) => setTimeout(r, RETRY_PAUSE_MS * attempt));
    result = await next();
  }
  ctx.log.debug("trpc: call", { path, type, ok: result.ok, ms: Math.round(performance.now() - started) });
  if (result.ok) return result;
  const cause = result.error.cause;
  if (cause instanceof AppError) {
    return { ...result, error: new TRPCError({ code: cause.trpcCode, message: cause.userMessage, cause }) };
  }
  const prismaCode = prismaErrorCode(cause);
  if (prismaCode === "P2025") {
    return { ...result, error: new TRPCError({ code: "NOT_FOUND", message: "Not found.", cause }) };
  }
  if (isUniqueViolation(cause)) {
    return { ...result, error: new TRPCError({ code: "CONFLICT", message: "That already exists.", cause }) };
  }
  // The database is down or restarting (after the retry above, for calls safe to retry): a 503
  // that says to try again, not a 500 that says something broke.
  if (isDatabaseUnavailable(cause ?? result.error)) {
    const message = APP_ERROR_TABLE.UNAVAILABLE.userMessage;
    return { ...result, error: new TRPCError({ code: APP_ERROR_TABLE.UNAVAILABLE.trpc, message, cause }) };
  }
  return result;
});

/** Fields whose service reports NUL bytes itself, per line (an import file's content). */
const NUL_REPORTED_BY_SERVICE: Record<string, string> = { "prompts.import": "content" };

/** The path of the first string holding a NUL byte, or null. Depth-bounded: inputs are small objects. */
function nulField(value: unknown, at: string, skip: string | undefined, depth = 0): string | null {
  if (typeof value === "string") return value.includes("\u0000") ? at || "input" : null;
  if (depth > 8 || typeof value !== "object" || value === null) return null;
  for (const [key, child] of Object.entries(value)) {
    const path = at ? `${at}.${key}` : key;
    if (path === skip) continue;
    const found = nulField(child, path, skip, depth + 1);
    if (found) return found;
  }
  return null;
}

/**
 * PostgreSQL text cannot hold NUL (error 22021): any string input with one is a 400 naming the
 * field, for every procedure, instead of relying on each schema to remember it.
 */
const refuseNul = t.middleware(async ({ path, getRawInput, next }) => {
  const field = nulField(await getRawInput(), "", NUL_REPORTED_BY_SERVICE[path]);
  if (field) throw new TRPCError({ code: "BAD_REQUEST", message: `Invalid input: ${field}: must not contain NUL characters` });
  return next();
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;
export const mergeRouters = t.mergeRouters;

export const publicProcedure = t.procedure.meta({ access: "public" }).use(mapErrors).use(refuseNul);

/** Any signed-in, enabled user (disabled users have no valid session). */
export const labelerProcedure = publicProcedure.meta({ access: "labeler" }).use(({ ctx, next }) => {
  if (!ctx.user) throw new TRPCError({ code: "UNAUTHORIZED", message: "Please sign in." });
  return next({ ctx: { user: ctx.user } });
});

export const adminProcedure = labelerProcedure.meta({ access: "admin" }).use(({ ctx, next }) => {
  if (ctx.user.role !== "ADMIN") throw new TRPCError({ code: "FORBIDDEN", message: "Admins only." });
  return next({ ctx: { user: ctx.user } });
});
