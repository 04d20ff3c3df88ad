// The arena's votes in FastChat's clean_battle format (JSON lines), so LMSYS tooling and our
// own `npm run cli -- ratings` read them directly. Self-battles are included (they are real
// votes); the rating code excludes them as FastChat's never has any.
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { readVotedBattles, type VoteCursor, type VotedBattle } from "../leaderboard/battle-records.ts";
import { jsonLinesStream } from "./streams.ts";

export interface CleanBattleLine {
  question_id: string;
  model_a: string;
  model_b: string;
  winner: VotedBattle["winner"];
  judge: string;
  turn: 1;
  anony: true;
  tstamp: number;
  /** ON_POLICY (two samples of one version, DPO data) or VERSUS (leaderboard data). */
  battle_kind: VotedBattle["kind"];
}

export function toCleanBattleLine(b: VotedBattle): CleanBattleLine {
  return {
    question_id: b.battleId,
    model_a: b.modelA,
    model_b: b.modelB,
    winner: b.winner,
    judge: `arena_user_${b.labelerId}`,
    turn: 1,
    anony: true,
    tstamp: b.tstamp,
    battle_kind: b.kind,
  };
}

export function streamCleanBattles({ db, batchSize = 5_000 }: { db: PrismaClient; batchSize?: number }): ReadableStream<Uint8Array> {
  return jsonLinesStream<VotedBattle, VoteCursor>({
    async readPage(after) {
      const rows = await readVotedBattles({ db, after, limit: batchSize });
      const last = rows[rows.length - 1];
      return { rows, next: rows.length < batchSize || !last ? null : { votedAtMs: last.votedAtMs, voteId: last.voteId } };
    },
    toLine: toCleanBattleLine,
  });
}
