// The reliability model's inputs from the database. A pair is its prompt text and its two
// completion texts, so overlap copies of a battle, gold battles and gold pairs with the same
// texts are the same item; the A/B order is normalised (by the completions' hashes) so a pair
// shown the other way round still counts as the same item.
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { type Answer, type GoldAnswer, MaceModel, type QualityVote } from "../../../quality/index.ts";

export interface VoteRow {
  voteId: string;
  labelerId: string;
  choice: Answer;
  msToVote: number;
  hp: string;
  ha: string;
  hb: string;
}

const flip = (a: Answer): Answer => (a === "A" ? "B" : a === "B" ? "A" : a);

/** The item key and the answer as seen in the normalised order. */
function normalise(hp: string, ha: string, hb: string, answer: Answer): { item: string; answer: Answer } {
  return ha <= hb ? { item: `${hp}:${ha}:${hb}`, answer } : { item: `${hp}:${hb}:${ha}`, answer: flip(answer) };
}

/** Every vote (rows and model votes in the same order) and every active gold answer. */
export async function loadQualityInputs(db: PrismaClient): Promise<{ rows: VoteRow[]; votes: QualityVote[]; gold: GoldAnswer[] }> {
  const [rows, goldRows] = await Promise.all([
    db.$queryRaw<VoteRow[]>`
      SELECT v.id AS "voteId", v."labelerId", v.choice::text AS choice, v."msToVote",
             md5(p.text) AS hp, md5(ca.text) AS ha, md5(cb.text) AS hb
        FROM "Vote" v
        JOIN "Battle" b ON b.id = v."battleId"
        JOIN "Prompt" p ON p.id = b."promptId"
        JOIN "Completion" ca ON ca."battleId" = b.id AND ca.slot = 'A'
        JOIN "Completion" cb ON cb."battleId" = b.id AND cb.slot = 'B'`,
    db.$queryRaw<{ hp: string; ha: string; hb: string; expected: "A" | "B" | "TIE" }[]>`
      SELECT md5("promptText") AS hp, md5("completionA") AS ha, md5("completionB") AS hb, expected::text AS expected
        FROM "GoldPair" WHERE active`,
  ]);
  const votes: QualityVote[] = rows.map((r) => {
    const n = normalise(r.hp, r.ha, r.hb, r.choice);
    return { labeler: r.labelerId, item: n.item, answer: n.answer };
  });
  const gold: GoldAnswer[] = goldRows.map((g) => {
    const n = normalise(g.hp, g.ha, g.hb, g.expected);
    return { item: n.item, answer: n.answer as GoldAnswer["answer"] };
  });
  return { rows, votes, gold };
}

/**
 * Per vote id: the posterior probability that the vote is right (src/quality's `voteCorrect`),
 * from a fit over every stored vote. What training weights a pair by, or drops it below a
 * threshold (the dpo settings' `labelerWeighting`).
 */
export async function voteConfidence({
  db,
  model = new MaceModel(),
}: {
  db: PrismaClient;
  model?: MaceModel;
}): Promise<Map<string, number>> {
  const { rows, votes, gold } = await loadQualityInputs(db);
  const fit = model.fit(votes, { gold });
  return new Map(rows.map((r, i) => [r.voteId, fit.voteCorrect[i]!]));
}
