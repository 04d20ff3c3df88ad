"use client";
// The labeler's queue: the current battle plus one prefetched, each streaming over SSE as soon
// as it is assigned, so one key press shows the next battle already loading or finished.
import { TRPCClientError } from "@trpc/client";
import { useCallback, useEffect, useRef, useState } from "react";
import { useTRPCClient } from "@/trpc/react";

export type SlotName = "A" | "B";
export type Choice = "A" | "B" | "TIE" | "BOTH_BAD";

export interface BattleView {
  battleId: string;
  promptText: string;
  texts: Record<SlotName, string>;
  done: Record<SlotName, boolean>;
  /** both completions stored: the vote is open */
  ready: boolean;
  readyAt: number | null;
  error: string | null;
  idempotencyKey: string;
}

export interface Reveal {
  battleId: string;
  choice: Choice | "SKIP";
  promptText: string;
  versions?: { A: string; B: string };
  kind?: "ON_POLICY" | "VERSUS" | "CONTESTANT";
  /** the vote is still being sent (retried on network errors with the same key) */
  pending: boolean;
  error?: string;
}

const PREFETCH = 2;

function newKey(): string {
  return crypto.randomUUID().replace(/-/g, "");
}

function isRetryable(err: unknown): boolean {
  if (!(err instanceof TRPCClientError)) return true;
  const status = (err.data as { httpStatus?: number } | undefined)?.httpStatus;
  return status === undefined || status >= 500;
}

function errorMessage(err: unknown): string {
  return err instanceof TRPCClientError ? err.message : "Could not reach the server.";
}

export function useBattleQueue() {
  const client = useTRPCClient();
  const [queue, setQueue] = useState<BattleView[]>([]);
  const [empty, setEmpty] = useState<string | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [reveal, setReveal] = useState<Reveal | null>(null);
  /** votes and skips the server confirmed: the stats refresh on each */
  const [acked, setAcked] = useState(0);
  // The ref is the source of truth and every change goes through `update`, so a stream event
  // and a key press in the same tick cannot overwrite each other's change.
  const queueRef = useRef<BattleView[]>([]);
  const update = useCallback((f: (q: BattleView[]) => BattleView[]) => {
    queueRef.current = f(queueRef.current);
    setQueue(queueRef.current);
  }, []);
  const sources = useRef(new Map<string, EventSource>());
  const fetching = useRef(false);
  /** Voted or skipped here but maybe not yet committed: the server could still hand them back as open. */
  const finished = useRef<string[]>([]);
  const excluded = () => [...queueRef.current.map((b) => b.battleId), ...finished.current];

  const patch = useCallback(
    (battleId: string, f: (b: BattleView) => BattleView) => update((q) => q.map((b) => (b.battleId === battleId ? f(b) : b))),
    [update],
  );

  const openStream = useCallback(
    (battleId: string) => {
      if (sources.current.has(battleId)) return;
      const es = new EventSource(`/api/battles/${encodeURIComponent(battleId)}/stream`);
      sources.current.set(battleId, es);
      const close = () => {
        es.close();
        sources.current.delete(battleId);
      };
      // `text` carries a change ({from, append}: keep `from` characters, then append); `done` the final text.
      es.addEventListener("text", (ev: MessageEvent) => {
        const { slot, from, append } = JSON.parse(ev.data as string) as { slot: SlotName; from: number; append: string };
        patch(battleId, (b) => (b.done[slot] ? b : { ...b, texts: { ...b.texts, [slot]: b.texts[slot].slice(0, from) + append } }));
      });
      es.addEventListener("done", (ev: MessageEvent) => {
        const { slot, text } = JSON.parse(ev.data as string) as { slot: SlotName; text: string };
        patch(battleId, (b) => ({ ...b, texts: { ...b.texts, [slot]: text }, done: { ...b.done, [slot]: true } }));
      });
      es.addEventListener("ready", () => {
        close();
        patch(battleId, (b) => ({ ...b, ready: true, readyAt: b.readyAt ?? performance.now(), done: { A: true, B: true } }));
      });
      es.addEventListener("failure", (ev) => {
        close();
        const { message } = JSON.parse((ev as MessageEvent).data as string) as { message: string };
        patch(battleId, (b) => ({ ...b, error: message }));
      });
      // The browser reconnects on its own after a network error; the server resumes the stream.
    },
    [patch],
  );

  const fill = useCallback(async () => {
    if (fetching.current) return;
    fetching.current = true;
    try {
      while (queueRef.current.length < PREFETCH) {
        const res = await client.arena.next.mutate({ excludeBattleIds: excluded() });
        if (res.status !== "battle") {
          if (queueRef.current.length === 0) setEmpty(res.message);
          break;
        }
        setEmpty(null);
        setLoadError(null);
        const view: BattleView = {
          battleId: res.battle.battleId,
          promptText: res.battle.promptText,
          texts: { A: "", B: "" },
          done: { A: false, B: false },
          ready: false,
          readyAt: null,
          error: null,
          idempotencyKey: newKey(),
        };
        if (excluded().includes(view.battleId)) break;
        update((q) => [...q, view]);
        openStream(view.battleId);
      }
    } catch (err) {
      setLoadError(errorMessage(err));
    } finally {
      fetching.current = false;
    }
  }, [client, openStream, update]);

  useEffect(() => {
    void fill();
    const open = sources.current;
    return () => {
      for (const es of open.values()) es.close();
      open.clear();
    };
  }, [fill]);

  const advance = useCallback(() => {
    const done = queueRef.current[0];
    if (done) finished.current = [...finished.current, done.battleId].slice(-10);
    update((q) => q.slice(1));
    void fill();
  }, [fill, update]);

  const vote = useCallback(
    (choice: Choice) => {
      const current = queueRef.current[0];
      if (!current?.ready) return false;
      const msToVote = Math.max(0, Math.round(performance.now() - (current.readyAt ?? performance.now())));
      setReveal({ battleId: current.battleId, choice, promptText: current.promptText, pending: true });
      advance();
      void (async () => {
        // Same idempotency key on every attempt: a retry after a lost response is not a second vote.
        for (let attempt = 0; ; attempt++) {
          try {
            const r = await client.arena.vote.mutate({
              battleId: current.battleId,
              choice,
              idempotencyKey: current.idempotencyKey,
              msToVote,
            });
            setReveal((prev) =>
              prev?.battleId === current.battleId ? { ...prev, choice: r.choice, versions: r.reveal, kind: r.kind, pending: false } : prev,
            );
            setAcked((n) => n + 1);
            return;
          } catch (err) {
            if (!isRetryable(err) || attempt >= 6) {
              setReveal((prev) => (prev?.battleId === current.battleId ? { ...prev, pending: false, error: errorMessage(err) } : prev));
              return;
            }
            await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
          }
        }
      })();
      return true;
    },
    [advance, client],
  );

  const skip = useCallback(() => {
    const current = queueRef.current[0];
    if (!current) return false;
    sources.current.get(current.battleId)?.close();
    sources.current.delete(current.battleId);
    setReveal({ battleId: current.battleId, choice: "SKIP", promptText: current.promptText, pending: true });
    advance();
    void client.arena.skip.mutate({ battleId: current.battleId }).then(
      () => {
        setReveal((prev) => (prev?.battleId === current.battleId ? { ...prev, pending: false } : prev));
        setAcked((n) => n + 1);
      },
      (err: unknown) =>
        setReveal((prev) => (prev?.battleId === current.battleId ? { ...prev, pending: false, error: errorMessage(err) } : prev)),
    );
    return true;
  }, [advance, client]);

  /** A prompt the labeler typed becomes the current battle. */
  const ask = useCallback(
    async (promptText: string) => {
      const res = await client.arena.next.mutate({ promptText, excludeBattleIds: excluded() });
      if (res.status !== "battle") throw new Error(res.message);
      const view: BattleView = {
        battleId: res.battle.battleId,
        promptText: res.battle.promptText,
        texts: { A: "", B: "" },
        done: { A: false, B: false },
        ready: false,
        readyAt: null,
        error: null,
        idempotencyKey: newKey(),
      };
      update((q) => [view, ...q]);
      openStream(view.battleId);
    },
    [client, openStream, update],
  );

  return { current: queue[0] ?? null, upcoming: queue.length - 1, empty, loadError, reveal, acked, vote, skip, ask, retry: fill };
}
