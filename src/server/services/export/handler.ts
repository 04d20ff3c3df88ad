// The HTTP side of the exports, kept out of the route files so tests drive the real handler
// with their own database. Admins only (a signed-in admin, or an API key with the `export`
// scope as `Authorization: Bearer`): the files hold every prompt and completion.
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { getSessionUser, readCookie, SESSION_COOKIE } from "../../auth/session.ts";
import { internalErrorMessage, newErrorId } from "../../errors.ts";
import { log } from "../../log.ts";
import { bearerToken, checkApiKey } from "../api-keys/authenticate.ts";
import { keyCheckError } from "../inference/openai-errors.ts";
import { streamCleanBattles } from "./battles.ts";
import { streamHfPreferences } from "./hf-preferences.ts";
import { streamTrlPairs } from "./trl.ts";

export type ExportKind = "battles" | "trl" | "hf-preferences";

const EXPORTS: Record<ExportKind, { filename: string; stream: (db: PrismaClient) => ReadableStream<Uint8Array> }> = {
  battles: { filename: "clean_battle", stream: (db) => streamCleanBattles({ db }) },
  trl: { filename: "trl_preferences", stream: (db) => streamTrlPairs({ db }) },
  "hf-preferences": { filename: "preferences", stream: (db) => streamHfPreferences({ db }) },
};

function fail(status: number, message: string): Response {
  return Response.json({ error: { message } }, { status, headers: { "cache-control": "no-store" } });
}

function streamResponse(spec: (typeof EXPORTS)[ExportKind], client: PrismaClient): Response {
  const date = new Date().toISOString().slice(0, 10);
  return new Response(spec.stream(client), {
    headers: {
      "content-type": "application/x-ndjson; charset=utf-8",
      "content-disposition": `attachment; filename="${spec.filename}_${date}.jsonl"`,
      "cache-control": "no-store",
    },
  });
}

export function createExportHandler({ kind, db }: { kind: ExportKind; db: PrismaClient | (() => PrismaClient) }) {
  const spec = EXPORTS[kind];
  return async function GET(req: Request): Promise<Response> {
    try {
      const client = typeof db === "function" ? db() : db;
      const authorization = req.headers.get("authorization");
      if (bearerToken(authorization)) {
        const check = await checkApiKey({ db: client, authorization, scope: "export" });
        if (!check.ok) return keyCheckError(check).toResponse();
        log.info("export: started", { kind, apiKeyId: check.key.id });
        return streamResponse(spec, client);
      }
      const token = readCookie(req.headers.get("cookie"), SESSION_COOKIE);
      const session = token ? await getSessionUser({ db: client, token }) : null;
      if (!session) return fail(401, "Please sign in as an admin to export data.");
      if (session.user.role !== "ADMIN") return fail(403, "Only admins can export data.");
      log.info("export: started", { kind, actorId: session.user.id });
      return streamResponse(spec, client);
    } catch (err) {
      const errorId = newErrorId();
      log.error("export: failed before streaming", { kind, errorId, err });
      return fail(500, internalErrorMessage(errorId));
    }
  };
}
