// Shared pieces for the API tests: users, sessions and a client for the real tRPC fetch handler.
import type { PrismaClient } from "../../src/generated/prisma/client.ts";
import { hashPassword } from "../../src/server/auth/password.ts";
import { createSession, SESSION_COOKIE } from "../../src/server/auth/session.ts";
import { createCaller } from "../../src/server/routers/_app.ts";
import { createTrpcRequestHandler } from "../../src/server/routers/handler.ts";
import { createContextInner } from "../../src/server/trpc.ts";

export const BASE_URL = "http://arena.test";
export const TTL_HOURS = 24;

let counter = 0;
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}${Date.now().toString(36)}${counter}`;
}

export async function createUser(db: PrismaClient, options: { role?: "ADMIN" | "LABELER"; password?: string; username?: string } = {}) {
  const password = options.password ?? "correct horse battery";
  const user = await db.user.create({
    data: { username: options.username ?? uniqueName("user"), passwordHash: await hashPassword(password), role: options.role ?? "LABELER" },
  });
  const { token } = await createSession({ db, userId: user.id, ttlHours: TTL_HOURS });
  return { user, password, token, cookie: `${SESSION_COOKIE}=${token}` };
}

export async function callerFor(db: PrismaClient, cookie?: string) {
  const headers = new Headers(cookie ? { cookie } : {});
  const resHeaders = new Headers();
  const ctx = await createContextInner({ db, headers, resHeaders, url: BASE_URL, sessionTtlHours: TTL_HOURS });
  return { caller: createCaller(ctx), resHeaders };
}

export interface HttpResult {
  status: number;
  headers: Headers;
  text: string;
  body: unknown;
}

export function httpClient(db: PrismaClient) {
  const handle = createTrpcRequestHandler({ db, sessionTtlHours: TTL_HOURS });

  async function send(req: Request): Promise<HttpResult> {
    const res = await handle(req);
    const text = await res.text();
    let body: unknown = null;
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
    return { status: res.status, headers: res.headers, text, body };
  }

  return {
    send,
    /** A mutation as the browser client sends it (superjson envelope, same-origin). */
    mutate(path: string, input: unknown, options: { cookie?: string; headers?: Record<string, string> } = {}) {
      return send(
        new Request(`${BASE_URL}/api/trpc/${path}`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            host: "arena.test",
            origin: BASE_URL,
            ...(options.cookie ? { cookie: options.cookie } : {}),
            ...options.headers,
          },
          body: JSON.stringify({ json: input }),
        }),
      );
    },
    rawPost(path: string, body: string, options: { cookie?: string; headers?: Record<string, string> } = {}) {
      return send(
        new Request(`${BASE_URL}/api/trpc/${path}`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            host: "arena.test",
            ...(options.cookie ? { cookie: options.cookie } : {}),
            ...options.headers,
          },
          body,
        }),
      );
    },
    query(path: string, input: unknown, options: { cookie?: string } = {}) {
      const qs = input === undefined ? "" : `?input=${encodeURIComponent(JSON.stringify({ json: input }))}`;
      return send(
        new Request(`${BASE_URL}/api/trpc/${path}${qs}`, {
          method: "GET",
          headers: { host: "arena.test", ...(options.cookie ? { cookie: options.cookie } : {}) },
        }),
      );
    },
  };
}

/** tRPC error body → its message and code (single, non-batched call). */
export function errorOf(result: HttpResult): { message: string; code: string; zodError: unknown; errorId: unknown } {
  const error = (result.body as { error?: { json?: { message: string; data: { code: string; zodError: unknown; errorId: unknown } } } })
    ?.error?.json;
  if (!error) throw new Error(`expected a tRPC error body, got ${result.status}: ${result.text.slice(0, 300)}`);
  return { message: error.message, code: error.data.code, zodError: error.data.zodError, errorId: error.data.errorId };
}
