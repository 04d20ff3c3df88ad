-- Gold pairs served as battles, and labelers excluded from the data (issue 15).
--
-- A gold pair gets its own prompt row (source 'gold:<id>', never in the pool: disabled and held
-- out), so its battles, completions and votes are ordinary rows and the one-judgement-per-labeler-
-- per-prompt rule stops a labeler from answering the same gold pair twice. Battle.goldPairId marks
-- the battles whose votes check the labeler and never become training pairs or rating battles.
--
-- An excluded labeler's votes leave training pools and ratings; nothing is deleted, and clearing
-- the flag brings them back.

ALTER TABLE "GoldPair" ADD COLUMN "promptId" TEXT;
ALTER TABLE "Battle" ADD COLUMN "goldPairId" TEXT;
ALTER TABLE "User" ADD COLUMN "excluded" BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE "User" ADD COLUMN "excludedAt" TIMESTAMP(3);

-- Gold pairs stored before this migration get their prompt rows now.
INSERT INTO "Prompt" (id, text, source, "overlapTarget", enabled, "heldOut", "createdAt")
SELECT 'gold-' || g.id, g."promptText", 'gold:' || g.id, 1, false, true, g."createdAt" FROM "GoldPair" g;
UPDATE "GoldPair" SET "promptId" = 'gold-' || id;

CREATE UNIQUE INDEX "GoldPair_promptId_key" ON "GoldPair"("promptId");
CREATE INDEX "Battle_goldPairId_idx" ON "Battle"("goldPairId");

ALTER TABLE "GoldPair" ADD CONSTRAINT "GoldPair_promptId_fkey" FOREIGN KEY ("promptId") REFERENCES "Prompt"("id") ON DELETE SET NULL ON UPDATE CASCADE;
ALTER TABLE "Battle" ADD CONSTRAINT "Battle_goldPairId_fkey" FOREIGN KEY ("goldPairId") REFERENCES "GoldPair"("id") ON DELETE SET NULL ON UPDATE CASCADE;
