-- Gold pairs (issue 15): a prompt, two fixed completions and the expected answer, used to
-- check labelers. Nothing references them yet; serving them as battles comes later.

-- CreateEnum
CREATE TYPE "GoldChoice" AS ENUM ('A', 'B', 'TIE');

-- CreateTable
CREATE TABLE "GoldPair" (
    "id" TEXT NOT NULL,
    "promptText" TEXT NOT NULL,
    "completionA" TEXT NOT NULL,
    "completionB" TEXT NOT NULL,
    "expected" "GoldChoice" NOT NULL,
    "note" TEXT,
    "source" TEXT NOT NULL,
    "createdById" TEXT,
    "active" BOOLEAN NOT NULL DEFAULT true,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "GoldPair_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "GoldPair_active_createdAt_idx" ON "GoldPair"("active", "createdAt");

-- AddForeignKey
ALTER TABLE "GoldPair" ADD CONSTRAINT "GoldPair_createdById_fkey" FOREIGN KEY ("createdById") REFERENCES "User"("id") ON DELETE SET NULL ON UPDATE CASCADE;
