-- Issue 17: external contestants. An admin registers an OpenAI-compatible endpoint; CONTESTANT
-- battles put it against the serving policy. The contestant's slot of a battle has no policy
-- version (its column is null and Battle."contestantId" says who it was), and its completion
-- names the contestant instead of a version. The CHECK constraints keep exactly one of the two.
-- (The new enum value is not used in this migration: PostgreSQL forbids using a value added in
-- the same transaction.)

-- AlterEnum
ALTER TYPE "BattleKind" ADD VALUE 'CONTESTANT';

-- CreateTable
CREATE TABLE "Contestant" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "baseUrl" TEXT NOT NULL,
    "model" TEXT NOT NULL,
    "api" TEXT NOT NULL DEFAULT 'chat',
    "apiKeyEncrypted" TEXT,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "lastSuccessAt" TIMESTAMP(3),
    "lastErrorAt" TIMESTAMP(3),
    "lastError" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "removedAt" TIMESTAMP(3),

    CONSTRAINT "Contestant_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "Contestant_name_key" ON "Contestant"("name");

-- AlterTable
ALTER TABLE "Battle" ALTER COLUMN "policyAId" DROP NOT NULL,
ALTER COLUMN "policyBId" DROP NOT NULL,
ADD COLUMN "contestantId" INTEGER;

-- AlterTable
ALTER TABLE "Completion" ALTER COLUMN "policyVersionId" DROP NOT NULL,
ADD COLUMN "contestantId" INTEGER;

-- AddForeignKey
ALTER TABLE "Battle" ADD CONSTRAINT "Battle_contestantId_fkey" FOREIGN KEY ("contestantId") REFERENCES "Contestant"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Completion" ADD CONSTRAINT "Completion_contestantId_fkey" FOREIGN KEY ("contestantId") REFERENCES "Contestant"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- A battle has a contestant exactly when one of its slots has no version.
ALTER TABLE "Battle" ADD CONSTRAINT "Battle_contestant_slot_check"
  CHECK ((("policyAId" IS NULL)::int + ("policyBId" IS NULL)::int) = ("contestantId" IS NOT NULL)::int);

-- A completion comes from a version or from a contestant, never both or neither.
ALTER TABLE "Completion" ADD CONSTRAINT "Completion_source_check"
  CHECK (("policyVersionId" IS NULL) <> ("contestantId" IS NULL));
