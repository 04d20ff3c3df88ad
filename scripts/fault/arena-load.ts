// The arena as its labelers use it, over HTTP: tRPC calls, a battle's stream until it is ready,
// a load of labelers voting as fast as the arena lets them, and the check that every vote the
// server acknowledged was stored once.
import { randomBytes } from "node:crypto";
import type { PrismaClient } from "../../src/server/db/client.ts";
import { check, sleep } from "./report.ts";

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function trpc<T>(
  base: string,
  cookie: string,
  procedure: string,
  input: unknown,
  kind: "mutation" | "query" = "mutation",
): Promise<T> {
  const res =
    kind === "mutation"
      ? await fetch(`${base}/api/trpc/${procedure}`, {
          method: "POST",
          headers: { "content-type": "application/json", cookie },
          body: JSON.stringify({ json: input }),
          signal: AbortSignal.timeout(15_000),
        })
      : await fetch(`${base}/api/trpc/${procedure}?input=${encodeURIComponent(JSON.stringify({ json: input }))}`, {
          headers: { cookie },
          signal: AbortSignal.timeout(15_000),
        });
  const body = (await res.json().catch(() => ({}))) as { result?: { data: { json: T } }; error?: { json: { message: string } } };
  if (!res.ok) throw new HttpError(res.status, `${procedure}: HTTP ${res.status}: ${body.error?.json.message}`);
  return body.result!.data.json;
}

async function streamToReady(base: string, cookie: string, battleId: string): Promise<void> {
  const res = await fetch(`${base}/api/battles/${battleId}/stream`, { headers: { cookie }, signal: AbortSignal.timeout(60_000) });
  if (!res.ok || !res.body) throw new HttpError(res.status, `stream: HTTP ${res.status}`);
  let buffered = "";
  const decoder = new TextDecoder();
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true });
    if (/^event: ready$/m.test(buffered)) return;
    if (/^event: failure$/m.test(buffered)) throw new Error("stream: failure event");
  }
  throw new Error("stream ended without ready");
}

export interface Ack {
  key: string;
  battleId: string;
  voteId: string;
  at: number;
  labeler: number;
}

export interface Load {
  acks: Ack[];
  /** HTTP statuses of failed calls (0: no answer), with what and when */
  failures: { status: number; at: number; what: string }[];
  stop(): Promise<void>;
}

/**
 * One labeler per cookie, voting as fast as the arena lets them. A vote is re-sent with the same
 * idempotency key until acknowledged (or 60 s), as the page does; `acks` are the votes the
 * server acknowledged. `baseOf(i)` picks labeler i's web server at each call.
 */
export function startLoad(cookies: string[], baseOf: (i: number) => string): Load {
  const acks: Ack[] = [];
  const failures: Load["failures"] = [];
  let stopping = false;
  const noteFailure = (err: unknown) =>
    failures.push({ status: err instanceof HttpError ? err.status : 0, at: Date.now(), what: (err as Error).message.split(":")[0]! });
  const one = async (i: number) => {
    while (!stopping) {
      try {
        const next = await trpc<{ status: string; battle?: { battleId: string } }>(baseOf(i), cookies[i]!, "arena.next", {
          excludeBattleIds: [],
        });
        if (next.status !== "battle") {
          await sleep(300);
          continue;
        }
        const battleId = next.battle!.battleId;
        await streamToReady(baseOf(i), cookies[i]!, battleId);
        const key = `fault-${randomBytes(9).toString("base64url")}`;
        const giveUpAt = Date.now() + 60_000;
        for (;;) {
          try {
            const r = await trpc<{ voteId: string }>(baseOf(i), cookies[i]!, "arena.vote", {
              battleId,
              choice: Math.random() < 0.5 ? "A" : "B",
              idempotencyKey: key,
              msToVote: 500,
            });
            acks.push({ key, battleId, voteId: r.voteId, at: Date.now(), labeler: i });
            break;
          } catch (err) {
            noteFailure(err);
            if ((err instanceof HttpError && err.status >= 400 && err.status < 500 && err.status !== 429) || Date.now() > giveUpAt) break;
            await sleep(200);
          }
        }
      } catch (err) {
        noteFailure(err);
        await sleep(200);
      }
    }
  };
  const running = Promise.all(cookies.map((_, i) => one(i)));
  return {
    acks,
    failures,
    stop: async () => {
      stopping = true;
      await running;
    },
  };
}

/** Every acknowledged vote is stored exactly once, under its key, for its battle. */
export async function verifyAcks(scenario: string, db: PrismaClient, acks: Ack[]) {
  const stored = await db.vote.findMany({
    where: { idempotencyKey: { in: acks.map((a) => a.key) } },
    select: { id: true, idempotencyKey: true, battleId: true },
  });
  const byKey = new Map(stored.map((v) => [v.idempotencyKey, v]));
  const lost = acks.filter((a) => byKey.get(a.key)?.id !== a.voteId || byKey.get(a.key)?.battleId !== a.battleId);
  check(scenario, "every acknowledged vote is stored", lost.length === 0 && acks.length > 0, {
    acknowledged: acks.length,
    lost: lost.length,
  });
  const [dup] = await db.$queryRaw<{ n: number }[]>`
    SELECT count(*)::int AS n FROM (SELECT "battleId" FROM "Vote" GROUP BY 1 HAVING count(*) > 1
                                     UNION ALL SELECT "idempotencyKey" FROM "Vote" GROUP BY 1 HAVING count(*) > 1) d`;
  check(scenario, "no vote stored twice", dup!.n === 0, { duplicates: dup!.n });
}

export async function healthStatus(base: string): Promise<number> {
  try {
    const res = await fetch(`${base}/api/health`, { signal: AbortSignal.timeout(3000) });
    await res.body?.cancel();
    return res.status;
  } catch {
    return 0;
  }
}
