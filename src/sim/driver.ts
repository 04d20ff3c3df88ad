// Synthetic labelers at work: each one signs in over HTTP, asks the arena for its next battle,
// follows the battle's stream until both completions are stored, scores them with the true
// reward, decides with its own Bradley–Terry profile and votes through arena.vote — the same
// calls, in the same order, as the arena page in a browser.
import { randomUUID } from "node:crypto";
import { ProductClient, ProductError } from "./client.ts";
import { type CarelessKind, createRng, type Judgement, judge, type LabelerProfile } from "./labeler.ts";
import type { RewardKind } from "./reward.ts";

export interface LabelerAccount {
  username: string;
  password: string;
  profile: LabelerProfile;
}

export interface LabelerStats {
  username: string;
  careless: boolean;
  /** how a careless labeler clicks (absent for careful ones) */
  carelessKind?: CarelessKind;
  votes: Record<Judgement, number>;
  skipped: number;
  failures: number;
}

export interface DriveOptions {
  baseUrl: string;
  labelers: LabelerAccount[];
  /** pause between a labeler's votes (a reading time); sampling usually dominates anyway */
  thinkMs?: number;
  /** wait before asking again when the arena has no battle to give */
  idleMs?: number;
  seed?: number;
  /** the reward the labelers judge by (default "distinct") */
  reward?: RewardKind;
  signal: AbortSignal;
  onVote?: (e: { username: string; battleId: string; choice: Judgement; rewardA: number; rewardB: number }) => void;
  onProblem?: (e: { username: string; message: string }) => void;
}

type NextBattle =
  | { status: "battle"; battle: { battleId: string; promptText: string } }
  | { status: "empty"; message: string }
  | { status: "unavailable"; message: string };

/** Resolves after `ms`, or at once when `signal` aborts; leaves no listener behind either way. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

async function runOne(account: LabelerAccount, index: number, opts: DriveOptions): Promise<LabelerStats> {
  const { signal } = opts;
  const stats: LabelerStats = {
    username: account.username,
    careless: account.profile.careless,
    ...(account.profile.careless ? { carelessKind: account.profile.carelessKind ?? "random" } : {}),
    votes: { A: 0, B: 0, TIE: 0, BOTH_BAD: 0 },
    skipped: 0,
    failures: 0,
  };
  const rng = createRng((opts.seed ?? 0) * 1009 + index + 1);
  const client = new ProductClient({ baseUrl: opts.baseUrl });
  await client.signIn(account.username, account.password);
  const problem = (message: string) => {
    stats.failures++;
    opts.onProblem?.({ username: account.username, message });
  };

  while (!signal.aborted) {
    let next: NextBattle;
    try {
      next = await client.mutation<NextBattle>("arena.next", { excludeBattleIds: [] });
    } catch (err) {
      if (signal.aborted) break;
      problem(`arena.next failed: ${(err as Error).message}`);
      await sleep(opts.idleMs ?? 2000, signal);
      continue;
    }
    if (next.status !== "battle") {
      await sleep(opts.idleMs ?? 2000, signal);
      continue;
    }
    const battleId = next.battle.battleId;
    let streamed;
    try {
      streamed = await client.streamBattle(battleId, { signal });
    } catch (err) {
      if (signal.aborted) break;
      problem(`stream of ${battleId} failed: ${(err as Error).message}`);
      continue;
    }
    if (streamed.status === "failure") {
      // What a person does with a broken battle: skip it and take the next.
      problem(`battle ${battleId}: ${streamed.message}`);
      await client.mutation("arena.skip", { battleId }).catch(() => {});
      stats.skipped++;
      continue;
    }
    const started = Date.now();
    const { choice, rewardA, rewardB } = judge(streamed.texts.A, streamed.texts.B, account.profile, rng, opts.reward);
    if (opts.thinkMs) await sleep(opts.thinkMs, signal);
    // Votes cast after the stop signal still count: the completions were already sampled.
    const idempotencyKey = `sim-${randomUUID()}`;
    for (let attempt = 0; ; attempt++) {
      try {
        await client.mutation("arena.vote", { battleId, choice, idempotencyKey, msToVote: Date.now() - started });
        stats.votes[choice]++;
        opts.onVote?.({ username: account.username, battleId, choice, rewardA, rewardB });
        break;
      } catch (err) {
        // The browser retries a vote with the same key; a 4xx will not fix itself.
        const status = err instanceof ProductError ? err.httpStatus : 0;
        if (attempt >= 2 || (status >= 400 && status < 500)) {
          problem(`vote on ${battleId} failed: ${(err as Error).message}`);
          break;
        }
        await sleep(500);
      }
    }
  }
  return stats;
}

/** Runs every labeler concurrently until `signal` aborts; resolves with each one's tally. */
export async function driveLabelers(opts: DriveOptions): Promise<LabelerStats[]> {
  return Promise.all(opts.labelers.map((a, i) => runOne(a, i, opts)));
}
