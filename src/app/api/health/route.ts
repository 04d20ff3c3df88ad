import { db } from "@/server/db/client";
import { internalErrorMessage, newErrorId } from "@/server/errors";
import { log } from "@/server/log";
import { eventLoopDelay } from "@/server/ops/event-loop";
import { checkHealth } from "@/server/ops/health";
import packageJson from "../../../../package.json";

// A health check that answered from a cache would hide an outage.
export const dynamic = "force-dynamic";
export const revalidate = 0;

const NO_STORE = { "cache-control": "no-store, max-age=0" };

eventLoopDelay(); // start measuring at the first request

// 200 while the arena takes votes (status "ok", or "degraded" when the trainer or this process's
// sampler is not running: `parts` says which); 503 when the database does not answer.
export async function GET(req: Request): Promise<Response> {
  try {
    // `?resetLoopDelay=1` starts a new event-loop window (benchmarks read one window per phase)
    const report = await checkHealth({ db, resetLoopDelay: new URL(req.url).searchParams.get("resetLoopDelay") === "1" });
    const body = {
      status: report.status,
      parts: report.parts,
      // kept at the top level for existing monitors and benchmarks
      database: report.parts.database,
      eventLoopDelayMs: report.parts.web.eventLoopDelayMs,
      version: packageJson.version,
    };
    if (!report.parts.database.ok) log.warn("health: database check failed", { error: report.parts.database.error });
    return Response.json(body, { status: report.parts.database.ok ? 200 : 503, headers: NO_STORE });
  } catch (err) {
    // e.g. DATABASE_URL missing or invalid: unhealthy, with the reason in the log only.
    const errorId = newErrorId();
    log.error("health: check failed", { errorId, err });
    return Response.json(
      { status: "unavailable", database: { ok: false, latencyMs: 0, error: internalErrorMessage(errorId) }, version: packageJson.version },
      { status: 503, headers: NO_STORE },
    );
  }
}
