-- Imported preference datasets (issue 17, data in): TRL or Anthropic HH files become offline
-- DPO pairs a round may use. They live in their own tables, apart from votes, so no rating,
-- leaderboard or labeler statistic can count them.
--
-- A round records every pair it used in "RoundVote" and caches reference log-probs per
-- completion in "RefLogprob"; pairs now come from arena votes, API preferences and imports, so
-- the foreign keys that named only "Vote" and "Completion" are dropped (the ids are cuids of
-- different tables and cannot collide).

-- DropForeignKey
ALTER TABLE "RoundVote" DROP CONSTRAINT "RoundVote_voteId_fkey";

-- DropForeignKey
ALTER TABLE "RefLogprob" DROP CONSTRAINT "RefLogprob_completionId_fkey";

-- CreateTable
CREATE TABLE "PreferenceImport" (
    "id" TEXT NOT NULL,
    "filename" TEXT NOT NULL,
    "format" TEXT NOT NULL,
    "pairCount" INTEGER NOT NULL,
    "rootVersionId" INTEGER NOT NULL,
    "createdById" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "PreferenceImport_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ImportedPair" (
    "id" TEXT NOT NULL,
    "importId" TEXT NOT NULL,
    "line" INTEGER NOT NULL,
    "prompt" TEXT NOT NULL,
    "promptMessages" JSONB,
    "chosen" TEXT NOT NULL,
    "rejected" TEXT NOT NULL,
    "promptTokenIds" INTEGER[],
    "chosenTokenIds" INTEGER[],
    "rejectedTokenIds" INTEGER[],
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ImportedPair_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "PreferenceImport_createdAt_idx" ON "PreferenceImport"("createdAt");

-- CreateIndex
CREATE INDEX "ImportedPair_importId_line_idx" ON "ImportedPair"("importId", "line");

-- CreateIndex
CREATE INDEX "ImportedPair_createdAt_idx" ON "ImportedPair"("createdAt");

-- AddForeignKey
ALTER TABLE "PreferenceImport" ADD CONSTRAINT "PreferenceImport_rootVersionId_fkey" FOREIGN KEY ("rootVersionId") REFERENCES "PolicyVersion"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ImportedPair" ADD CONSTRAINT "ImportedPair_importId_fkey" FOREIGN KEY ("importId") REFERENCES "PreferenceImport"("id") ON DELETE CASCADE ON UPDATE CASCADE;
