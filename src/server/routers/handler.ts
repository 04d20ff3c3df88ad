// The HTTP entry point for tRPC, separate from the Next.js route file so tests can drive the
// real fetch handler with their own database.
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import type { PrismaClient } from "../../generated/prisma/client.ts";
import { checkCsrf } from "../auth/csrf.ts";
import { internalErrorMessage, newErrorId } from "../errors.ts";
import { log } from "../log.ts";
import { createContext, createContextInner } from "../trpc.ts";
import { appRouter } from "./_app.ts";
import { applyRequestLimits, RequestLimitError } from "./request-limits.ts";

export const TRPC_ENDPOINT = "/api/trpc";

function jsonError(status: number, message: string, code: string): Response {
  return Response.json({ error: { message, code } }, { status, headers: { "cache-control": "no-store" } });
}

/** Without options it uses the process database and environment (production). */
export function createTrpcRequestHandler(options?: { db: PrismaClient; sessionTtlHours: number }) {
  return async function handle(req: Request): Promise<Response> {
    const started = performance.now();
    try {
      const csrf = checkCsrf(req);
      if (!csrf.ok) {
        log.warn("trpc: request refused by CSRF check", { reason: csrf.reason, origin: req.headers.get("origin") });
        return jsonError(csrf.status, csrf.reason, csrf.status === 403 ? "FORBIDDEN" : "UNSUPPORTED_MEDIA_TYPE");
      }
      let limited: Request;
      try {
        limited = await applyRequestLimits(req, TRPC_ENDPOINT);
      } catch (err) {
        if (!(err instanceof RequestLimitError)) throw err;
        log.warn("trpc: request refused by size limits", { status: err.status, reason: err.message });
        return jsonError(err.status, err.message, err.status === 413 ? "PAYLOAD_TOO_LARGE" : "BAD_REQUEST");
      }
      const response = await fetchRequestHandler({
        endpoint: TRPC_ENDPOINT,
        req: limited,
        router: appRouter,
        createContext: ({ req: request, resHeaders }) =>
          options
            ? createContextInner({
                db: options.db,
                headers: request.headers,
                resHeaders,
                url: request.url,
                sessionTtlHours: options.sessionTtlHours,
              })
            : createContext({ req: request, resHeaders }),
        responseMeta: () => ({ headers: { "cache-control": "no-store" } }),
      });
      // Time spent in this handler (context, procedure, serialisation), for clients and
      // benchmarks to tell server time from queueing in front of it.
      response.headers.set("server-timing", `app;dur=${(performance.now() - started).toFixed(1)}`);
      return response;
    } catch (err) {
      // Failures outside a procedure (context creation, e.g. the database is down).
      const errorId = newErrorId();
      log.error("trpc: request failed outside a procedure", { errorId, err });
      return jsonError(500, internalErrorMessage(errorId), "INTERNAL_SERVER_ERROR");
    }
  };
}
