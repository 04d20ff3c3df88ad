-- Bring your own model (issue 14): each policy version records where its weights came from,
-- which architecture it is, the name an admin gave it, and whether retention has deleted its
-- checkpoint files (issue 16). Rows written before this change are the house model (the only
-- root: parent NULL) and GPT-2 rounds trained from it.

CREATE TYPE "ModelSource" AS ENUM ('HOUSE', 'IMPORTED', 'TRAINED');

ALTER TABLE "PolicyVersion"
  ADD COLUMN "source" "ModelSource" NOT NULL DEFAULT 'TRAINED',
  ADD COLUMN "architecture" TEXT,
  ADD COLUMN "displayName" TEXT,
  ADD COLUMN "parameterCount" BIGINT,
  ADD COLUMN "sourcePath" TEXT,
  ADD COLUMN "checkpointPrunedAt" TIMESTAMP(3);

UPDATE "PolicyVersion" SET "source" = 'HOUSE', "displayName" = 'house model' WHERE "parentId" IS NULL;
UPDATE "PolicyVersion" SET "architecture" = 'gpt2';
