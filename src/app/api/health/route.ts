import { checkDatabase } from "@/server/db/client";
import { internalErrorMessage, newErrorId } from "@/server/errors";
import { log } from "@/server/log";
import { eventLoopDelay } from "@/server/ops/event-loop";
import packageJson from "../../../../package.json";

// A health check that answered from a cache would hide an outage.
export const dynamic = "force-dynamic";
export const revalidate = 0;

const NO_STORE = { "cache-control": "no-store, max-age=0" };

eventLoopDelay(); // start measuring at the first request

export async function GET(req: Request): Promise<Response> {
  try {
    const database = await checkDatabase();
    const body = {
      status: database.ok ? "ok" : "unavailable",
      database,
      // `?resetLoopDelay=1` starts a new window (benchmarks read one window per phase)
      eventLoopDelayMs: eventLoopDelay(new URL(req.url).searchParams.get("resetLoopDelay") === "1"),
      version: packageJson.version,
    };
    if (!database.ok) log.warn("health: database check failed", { error: database.error });
    return Response.json(body, { status: database.ok ? 200 : 503, headers: NO_STORE });
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
