// Server-sent events with a battle's two completions as they are sampled (worker threads, so
// the event loop stays free for votes). Events: `text` per slot ({slot, from, append}: keep the
// first `from` characters, then append), `done` per slot with the final text, then `ready`
// when both are stored and the vote is open, or `failure` with a message for the labeler.
// Text changes are merged and written a few times a second (services/battles/sse.ts).
import { getSessionUser, readCookie, SESSION_COOKIE } from "@/server/auth/session";
import { db } from "@/server/db/client";
import { isDatabaseUnavailable } from "@/server/db/connection-lost";
import { APP_ERROR_TABLE, AppError } from "@/server/errors";
import { log } from "@/server/log";
import { getSampler } from "@/server/sampler";
import { watchBattle } from "@/server/services/battles/generate";
import { type BattleEventWriter, battleEventWriter } from "@/server/services/battles/sse";
import { streamSlots } from "@/server/services/battles/stream-slots";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

function fail(status: number, message: string) {
  return Response.json({ error: { message } }, { status, headers: { "cache-control": "no-store" } });
}

export async function GET(req: Request, { params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) return fail(400, "Not a valid battle id.");
  const token = readCookie(req.headers.get("cookie"), SESSION_COOKIE);
  let session: Awaited<ReturnType<typeof getSessionUser>> = null;
  try {
    session = token ? await getSessionUser({ db, token }) : null;
  } catch (err) {
    // The database is down or restarting: say so (503), as the API does, instead of a 500.
    if (isDatabaseUnavailable(err)) return fail(503, APP_ERROR_TABLE.UNAVAILABLE.userMessage);
    throw err;
  }
  if (!session) return fail(401, "Please sign in.");
  const slot = streamSlots.acquire(session.user.id);
  if (!slot.ok) return fail(slot.status, slot.message);

  const encoder = new TextEncoder();
  let stop = () => {};
  let closed = false;
  let writer: BattleEventWriter | undefined;
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      const send = (event: string, data: unknown) => {
        if (closed) return;
        controller.enqueue(encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`));
      };
      const close = () => {
        if (closed) return;
        closed = true;
        slot.release();
        writer?.dispose();
        stop();
        controller.close();
      };
      writer = battleEventWriter(send, close);
      const onEvent = writer.onEvent;
      try {
        const watch = await watchBattle({ db, sampler: getSampler, battleId: id, labelerId: session.user.id, onEvent });
        stop = watch.stop;
        if (closed) watch.stop();
      } catch (err) {
        const message = err instanceof AppError ? err.userMessage : "Could not start sampling this battle. Skip it (s) or reload.";
        if (!(err instanceof AppError)) log.error("battles: stream failed", { battleId: id, err });
        send("failure", { message });
        close();
      }
    },
    cancel() {
      closed = true;
      slot.release();
      writer?.dispose();
      stop();
    },
  });
  return new Response(stream, {
    headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store, no-transform", "x-accel-buffering": "no" },
  });
}
