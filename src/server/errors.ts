// One error type for business rules. Services throw AppError; the tRPC layer maps it to a
// tRPC code and HTTP status and shows the user-facing message, never the internal one.
import type { TRPC_ERROR_CODE_KEY } from "@trpc/server";

export const AppErrorCode = {
  UNAUTHENTICATED: "UNAUTHENTICATED",
  FORBIDDEN: "FORBIDDEN",
  INVALID_CREDENTIALS: "INVALID_CREDENTIALS",
  ACCOUNT_DISABLED: "ACCOUNT_DISABLED",
  RATE_LIMITED: "RATE_LIMITED",
  NOT_FOUND: "NOT_FOUND",
  USERNAME_TAKEN: "USERNAME_TAKEN",
  INVALID_REQUEST: "INVALID_REQUEST",
  CONFLICT: "CONFLICT",
  UNAVAILABLE: "UNAVAILABLE",
  INTERNAL: "INTERNAL",
} as const;
export type AppErrorCode = (typeof AppErrorCode)[keyof typeof AppErrorCode];

interface CodeInfo {
  trpc: TRPC_ERROR_CODE_KEY;
  httpStatus: number;
  userMessage: string;
}

export const APP_ERROR_TABLE: Record<AppErrorCode, CodeInfo> = {
  UNAUTHENTICATED: { trpc: "UNAUTHORIZED", httpStatus: 401, userMessage: "Please sign in." },
  FORBIDDEN: { trpc: "FORBIDDEN", httpStatus: 403, userMessage: "You do not have permission to do that." },
  INVALID_CREDENTIALS: { trpc: "UNAUTHORIZED", httpStatus: 401, userMessage: "Wrong username or password." },
  ACCOUNT_DISABLED: { trpc: "FORBIDDEN", httpStatus: 403, userMessage: "This account is disabled. Ask an admin to enable it." },
  RATE_LIMITED: { trpc: "TOO_MANY_REQUESTS", httpStatus: 429, userMessage: "Too many attempts. Wait a few minutes and try again." },
  NOT_FOUND: { trpc: "NOT_FOUND", httpStatus: 404, userMessage: "Not found." },
  USERNAME_TAKEN: { trpc: "CONFLICT", httpStatus: 409, userMessage: "That username is already taken." },
  INVALID_REQUEST: { trpc: "BAD_REQUEST", httpStatus: 400, userMessage: "The request is not valid." },
  CONFLICT: { trpc: "CONFLICT", httpStatus: 409, userMessage: "That conflicts with the current state; reload and try again." },
  UNAVAILABLE: {
    trpc: "SERVICE_UNAVAILABLE",
    httpStatus: 503,
    userMessage: "The database is not answering right now; try again in a few seconds.",
  },
  INTERNAL: { trpc: "INTERNAL_SERVER_ERROR", httpStatus: 500, userMessage: "Something went wrong on our side." },
};

export class AppError extends Error {
  readonly code: AppErrorCode;
  /** Shown to the user; `message` (internal, for logs) may say more. */
  readonly userMessage: string;

  constructor(code: AppErrorCode, options: { message?: string; userMessage?: string; cause?: unknown } = {}) {
    const userMessage = options.userMessage ?? APP_ERROR_TABLE[code].userMessage;
    super(options.message ?? userMessage, { cause: options.cause });
    this.name = "AppError";
    this.code = code;
    this.userMessage = userMessage;
  }

  get httpStatus(): number {
    return APP_ERROR_TABLE[this.code].httpStatus;
  }

  get trpcCode(): TRPC_ERROR_CODE_KEY {
    return APP_ERROR_TABLE[this.code].trpc;
  }
}

/** A short id that ties a generic 500 message to the full log line. */
export function newErrorId(): string {
  return crypto.randomUUID().slice(0, 8);
}

export function internalErrorMessage(errorId: string): string {
  return `Something went wrong on our side (error id ${errorId}). Try again; if it keeps happening, report the id to an admin.`;
}
