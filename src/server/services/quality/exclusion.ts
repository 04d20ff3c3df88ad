// Excluding a labeler (issue 15): retroactive and reversible, nothing deleted. While the flag is
// set, their votes are left out of training pools (rounds/pairs.ts), of the ratings and of the
// exports (leaderboard/battle-records.ts, export/trl.ts); clearing it brings every vote back.
// Votes already trained on stay in the versions those rounds produced.
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { AppError } from "../../errors.ts";

export async function setLabelerExcluded(opts: { db: PrismaClient; labelerId: string; excluded: boolean; now?: Date }) {
  const user = await opts.db.user.findUnique({ where: { id: opts.labelerId }, select: { role: true, excluded: true } });
  if (!user) throw new AppError("NOT_FOUND", { userMessage: "No labeler with that id." });
  if (user.excluded !== opts.excluded) {
    await opts.db.user.update({
      where: { id: opts.labelerId },
      data: { excluded: opts.excluded, excludedAt: opts.excluded ? (opts.now ?? new Date()) : null },
    });
  }
  const votes = await opts.db.vote.count({ where: { labelerId: opts.labelerId } });
  return { labelerId: opts.labelerId, excluded: opts.excluded, votes };
}
