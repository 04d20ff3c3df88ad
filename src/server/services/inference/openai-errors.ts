// OpenAI's error contract, which the ecosystem's clients parse: the status code picks the SDK's
// exception class (400 BadRequestError, 401 AuthenticationError, 403 PermissionDeniedError,
// 404 NotFoundError, 429 RateLimitError, 5xx InternalServerError) and the body is
// {"error": {"message", "type", "param", "code"}}.
import type { KeyCheck } from "../api-keys/authenticate.ts";

export interface OpenAiErrorBody {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

export class OpenAiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "OpenAiError";
  }

  get body(): { error: OpenAiErrorBody } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }

  toResponse(): Response {
    return Response.json(this.body, { status: this.status, headers: { "cache-control": "no-store", ...this.headers } });
  }
}

export const badRequest = (message: string, param: string | null, code: string | null = "invalid_value") =>
  new OpenAiError(400, message, "invalid_request_error", param, code);

export function keyCheckError(check: Extract<KeyCheck, { ok: false }>): OpenAiError {
  switch (check.reason) {
    case "missing":
      return new OpenAiError(401, check.message, "invalid_request_error", null, null);
    case "invalid":
    case "revoked":
      return new OpenAiError(401, check.message, "invalid_request_error", null, "invalid_api_key");
    case "scope":
      return new OpenAiError(403, check.message, "insufficient_permissions", null, "missing_scope");
    case "rate_limited":
      return new OpenAiError(429, check.message, "requests", null, "rate_limit_exceeded", {
        "retry-after": String(check.retryAfterSeconds ?? 60),
      });
  }
}
