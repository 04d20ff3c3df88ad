// The leaderboard cache: a snapshot in this process's memory and in the "leaderboard.cache"
// Setting row, so every web replica renders the same numbers from whichever replica computed
// them. A request only compares the vote mark (one indexed count) with the snapshot's; when
// votes arrived it answers with the stale snapshot and recomputes in the background. Only the
// very first view of an arena without any stored snapshot computes in the request.
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { log } from "../../log.ts";
import { currentVoteMark, sameMark, type VoteMark } from "./battle-records.ts";
import { computeLeaderboardSnapshot } from "./compute.ts";
import { type LeaderboardSnapshot, parseStoredSnapshot } from "./snapshot.ts";

export const CACHE_SETTING_KEY = "leaderboard.cache";

export interface LeaderboardResult {
  snapshot: LeaderboardSnapshot;
  /** stale: votes arrived since `snapshot.mark`; a recomputation is running. */
  status: "fresh" | "stale";
  currentVotes: number;
}

interface Entry {
  snapshot: LeaderboardSnapshot | null;
  refreshing: Promise<LeaderboardSnapshot> | null;
  /** The last vote-mark query, shared by the requests that arrive while it is recent. */
  markCheck: { at: number; mark: Promise<VoteMark> } | null;
}

/** A burst of page views costs one count query per second; a new vote shows up within that second. */
export const DEFAULT_MARK_MAX_AGE_MS = 1000;

// Keyed by client so tests with their own databases (and the app's one client) never mix.
const entries = new WeakMap<object, Entry>();

function entryFor(db: PrismaClient): Entry {
  let e = entries.get(db);
  if (!e) entries.set(db, (e = { snapshot: null, refreshing: null, markCheck: null }));
  return e;
}

function newer(a: VoteMark, b: VoteMark): boolean {
  return a.votes > b.votes || (a.votes === b.votes && (a.lastVoteAtMs ?? -1) > (b.lastVoteAtMs ?? -1));
}

export async function readStoredSnapshot({ db }: { db: PrismaClient }): Promise<LeaderboardSnapshot | null> {
  const row = await db.setting.findUnique({ where: { key: CACHE_SETTING_KEY }, select: { value: true } });
  return row ? parseStoredSnapshot(row.value) : null;
}

/** Never replaces a snapshot computed at a later mark (another replica may have finished after us). */
async function storeSnapshot(db: PrismaClient, snapshot: LeaderboardSnapshot): Promise<void> {
  await db.$executeRaw`
    INSERT INTO "Setting" (key, value, "updatedAt") VALUES (${CACHE_SETTING_KEY}, ${JSON.stringify(snapshot)}::jsonb, now())
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, "updatedAt" = now()
    WHERE COALESCE(("Setting".value->'mark'->>'votes')::int, -1) <= ${snapshot.mark.votes}`;
}

function adopt(entry: Entry, snapshot: LeaderboardSnapshot): void {
  if (!entry.snapshot || !newer(entry.snapshot.mark, snapshot.mark)) entry.snapshot = snapshot;
}

/** Recomputes from all votes now and stores the result; concurrent calls in a process share one run. */
export function refreshLeaderboard({ db }: { db: PrismaClient }): Promise<LeaderboardSnapshot> {
  const entry = entryFor(db);
  entry.refreshing ??= (async () => {
    try {
      // In a worker thread when the client's URL is known (compute.ts): off this event loop.
      const { snapshot, where } = await computeLeaderboardSnapshot({ db });
      adopt(entry, snapshot);
      await storeSnapshot(db, snapshot);
      log.info("leaderboard: recomputed", {
        votes: snapshot.mark.votes,
        versions: snapshot.board.rows.length,
        computeMs: snapshot.computeMs,
        l2: snapshot.l2,
        where,
      });
      return snapshot;
    } finally {
      entry.refreshing = null;
    }
  })();
  return entry.refreshing;
}

/** The background recomputation of this process, if one is running (tests and shutdown await it). */
export function leaderboardRefreshInFlight({ db }: { db: PrismaClient }): Promise<LeaderboardSnapshot> | null {
  return entries.get(db)?.refreshing ?? null;
}

function refreshInBackground(db: PrismaClient): void {
  refreshLeaderboard({ db }).catch((err: unknown) =>
    log.error("leaderboard: background recomputation failed; serving the previous snapshot", { err }),
  );
}

function voteMark(db: PrismaClient, entry: Entry, maxAgeMs: number): Promise<VoteMark> {
  const now = Date.now();
  if (maxAgeMs > 0 && entry.markCheck && now - entry.markCheck.at < maxAgeMs) return entry.markCheck.mark;
  const mark = currentVoteMark({ db });
  entry.markCheck = { at: now, mark };
  // A failed check must not be served to the next second's requests.
  mark.catch(() => {
    if (entry.markCheck?.mark === mark) entry.markCheck = null;
  });
  return mark;
}

/** `markMaxAgeMs`: how old a vote-count check may be before it is repeated (0: check every call). */
export async function getLeaderboard({
  db,
  markMaxAgeMs = DEFAULT_MARK_MAX_AGE_MS,
}: {
  db: PrismaClient;
  markMaxAgeMs?: number;
}): Promise<LeaderboardResult> {
  const entry = entryFor(db);
  const mark = await voteMark(db, entry, markMaxAgeMs);
  const answer = (snapshot: LeaderboardSnapshot): LeaderboardResult => ({
    snapshot,
    status: sameMark(snapshot.mark, mark) ? "fresh" : "stale",
    currentVotes: mark.votes,
  });
  if (entry.snapshot && sameMark(entry.snapshot.mark, mark)) return answer(entry.snapshot);

  // Another replica may already have computed this mark; skip the read while our own run is going.
  if (!entry.refreshing) {
    const stored = await readStoredSnapshot({ db });
    if (stored) adopt(entry, stored);
  }
  if (entry.snapshot) {
    if (!sameMark(entry.snapshot.mark, mark) && !entry.refreshing) refreshInBackground(db);
    return answer(entry.snapshot);
  }
  return answer(await refreshLeaderboard({ db }));
}

/** Drops this process's copy (tests use it to act as a fresh replica). */
export function forgetLeaderboardMemory({ db }: { db: PrismaClient }): void {
  entries.delete(db);
}
