-- One judgement per labeler per prompt. A battle whose lease expired used to go back to the
-- pool for its own labeler too, who could then vote on the same pair twice (double training and
-- rating weight). Each vote now carries its battle's prompt, set by a trigger whatever code
-- writes the vote, and (labeler, prompt) is unique.

ALTER TABLE "Vote" ADD COLUMN "promptId" TEXT;

CREATE FUNCTION "vote_prompt"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW."promptId" := (SELECT "promptId" FROM "Battle" WHERE id = NEW."battleId");
  RETURN NEW;
END $$;

CREATE TRIGGER "Vote_prompt"
  BEFORE INSERT OR UPDATE OF "battleId", "promptId" ON "Vote"
  FOR EACH ROW EXECUTE FUNCTION "vote_prompt"();

-- Existing votes: the first one per (labeler, prompt) gets its prompt; duplicates stored before
-- this migration keep NULL (NULLs never collide), so history is kept and the index can be built.
UPDATE "Vote" v
   SET "promptId" = b."promptId"
  FROM "Battle" b
 WHERE b.id = v."battleId"
   AND NOT EXISTS (
     SELECT 1 FROM "Vote" earlier JOIN "Battle" eb ON eb.id = earlier."battleId"
      WHERE earlier."labelerId" = v."labelerId" AND eb."promptId" = b."promptId"
        AND (earlier."createdAt", earlier.id) < (v."createdAt", v.id));

CREATE UNIQUE INDEX "Vote_labelerId_promptId_key" ON "Vote"("labelerId", "promptId");
