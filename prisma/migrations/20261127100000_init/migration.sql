-- CreateEnum
CREATE TYPE "Role" AS ENUM ('LABELER', 'ADMIN');

-- CreateEnum
CREATE TYPE "PolicyStatus" AS ENUM ('CANDIDATE', 'SERVING', 'RETIRED', 'REJECTED');

-- CreateEnum
CREATE TYPE "BattleKind" AS ENUM ('ON_POLICY', 'VERSUS');

-- CreateEnum
CREATE TYPE "BattleStatus" AS ENUM ('OPEN', 'VOTED', 'SKIPPED', 'EXPIRED');

-- CreateEnum
CREATE TYPE "Slot" AS ENUM ('A', 'B');

-- CreateEnum
CREATE TYPE "VoteChoice" AS ENUM ('A', 'B', 'TIE', 'BOTH_BAD');

-- CreateEnum
CREATE TYPE "RoundStatus" AS ENUM ('QUEUED', 'RUNNING', 'SUCCEEDED', 'REJECTED', 'FAILED', 'CANCELLED');

-- CreateEnum
CREATE TYPE "PairSplit" AS ENUM ('TRAIN', 'HELDOUT');

-- CreateTable
CREATE TABLE "User" (
    "id" TEXT NOT NULL,
    "username" TEXT NOT NULL,
    "passwordHash" TEXT NOT NULL,
    "role" "Role" NOT NULL DEFAULT 'LABELER',
    "disabled" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "User_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Session" (
    "id" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Session_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Prompt" (
    "id" TEXT NOT NULL,
    "text" TEXT NOT NULL,
    "source" TEXT NOT NULL,
    "authorId" TEXT,
    "overlapTarget" INTEGER NOT NULL DEFAULT 1,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "heldOut" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Prompt_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "PolicyVersion" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "parentId" INTEGER,
    "checkpointUri" TEXT NOT NULL,
    "checkpointSha256" TEXT NOT NULL,
    "status" "PolicyStatus" NOT NULL,
    "modelConfig" JSONB,
    "notes" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "promotedAt" TIMESTAMP(3),

    CONSTRAINT "PolicyVersion_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Battle" (
    "id" TEXT NOT NULL,
    "promptId" TEXT NOT NULL,
    "labelerId" TEXT NOT NULL,
    "kind" "BattleKind" NOT NULL,
    "status" "BattleStatus" NOT NULL DEFAULT 'OPEN',
    "policyAId" INTEGER NOT NULL,
    "policyBId" INTEGER NOT NULL,
    "swapped" BOOLEAN NOT NULL DEFAULT false,
    "leaseExpiresAt" TIMESTAMP(3) NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "Battle_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Completion" (
    "id" TEXT NOT NULL,
    "battleId" TEXT,
    "slot" "Slot",
    "promptId" TEXT NOT NULL,
    "policyVersionId" INTEGER NOT NULL,
    "text" TEXT NOT NULL,
    "promptTokenIds" INTEGER[],
    "tokenIds" INTEGER[],
    "logprob" DOUBLE PRECISION,
    "temperature" DOUBLE PRECISION NOT NULL,
    "topP" DOUBLE PRECISION NOT NULL,
    "topK" INTEGER NOT NULL,
    "maxNewTokens" INTEGER NOT NULL,
    "seed" INTEGER NOT NULL,
    "finishReason" TEXT NOT NULL,
    "firstTokenMs" INTEGER,
    "latencyMs" INTEGER NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Completion_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "RefLogprob" (
    "completionId" TEXT NOT NULL,
    "policyVersionId" INTEGER NOT NULL,
    "logprob" DOUBLE PRECISION NOT NULL,
    "tokenCount" INTEGER NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "RefLogprob_pkey" PRIMARY KEY ("completionId","policyVersionId")
);

-- CreateTable
CREATE TABLE "Vote" (
    "id" TEXT NOT NULL,
    "battleId" TEXT NOT NULL,
    "labelerId" TEXT NOT NULL,
    "choice" "VoteChoice" NOT NULL,
    "msToVote" INTEGER NOT NULL,
    "idempotencyKey" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Vote_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "TrainingRound" (
    "id" TEXT NOT NULL,
    "number" SERIAL NOT NULL,
    "status" "RoundStatus" NOT NULL DEFAULT 'QUEUED',
    "config" JSONB NOT NULL,
    "baseVersionId" INTEGER,
    "referenceVersionId" INTEGER,
    "resultVersionId" INTEGER,
    "pairsTrain" INTEGER NOT NULL DEFAULT 0,
    "pairsHeldout" INTEGER NOT NULL DEFAULT 0,
    "summary" JSONB,
    "gates" JSONB,
    "error" TEXT,
    "triggeredBy" TEXT NOT NULL,
    "triggeredById" TEXT,
    "workerId" TEXT,
    "leaseExpiresAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" TIMESTAMP(3),
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "TrainingRound_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "RoundMetric" (
    "roundId" TEXT NOT NULL,
    "step" INTEGER NOT NULL,
    "values" JSONB NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "RoundMetric_pkey" PRIMARY KEY ("roundId","step")
);

-- CreateTable
CREATE TABLE "RoundVote" (
    "roundId" TEXT NOT NULL,
    "voteId" TEXT NOT NULL,
    "split" "PairSplit" NOT NULL,

    CONSTRAINT "RoundVote_pkey" PRIMARY KEY ("roundId","voteId")
);

-- CreateTable
CREATE TABLE "Setting" (
    "key" TEXT NOT NULL,
    "value" JSONB NOT NULL,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Setting_pkey" PRIMARY KEY ("key")
);

-- CreateIndex
CREATE UNIQUE INDEX "User_username_key" ON "User"("username");

-- CreateIndex
CREATE INDEX "Session_userId_idx" ON "Session"("userId");

-- CreateIndex
CREATE INDEX "Prompt_enabled_heldOut_idx" ON "Prompt"("enabled", "heldOut");

-- CreateIndex
CREATE UNIQUE INDEX "PolicyVersion_name_key" ON "PolicyVersion"("name");

-- CreateIndex
CREATE INDEX "Battle_labelerId_status_idx" ON "Battle"("labelerId", "status");

-- CreateIndex
CREATE INDEX "Battle_promptId_status_idx" ON "Battle"("promptId", "status");

-- CreateIndex
CREATE INDEX "Battle_status_leaseExpiresAt_idx" ON "Battle"("status", "leaseExpiresAt");

-- CreateIndex
CREATE INDEX "Completion_policyVersionId_idx" ON "Completion"("policyVersionId");

-- CreateIndex
CREATE UNIQUE INDEX "Completion_battleId_slot_key" ON "Completion"("battleId", "slot");

-- CreateIndex
CREATE UNIQUE INDEX "Vote_battleId_key" ON "Vote"("battleId");

-- CreateIndex
CREATE UNIQUE INDEX "Vote_idempotencyKey_key" ON "Vote"("idempotencyKey");

-- CreateIndex
CREATE INDEX "Vote_createdAt_idx" ON "Vote"("createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "TrainingRound_number_key" ON "TrainingRound"("number");

-- CreateIndex
CREATE UNIQUE INDEX "TrainingRound_resultVersionId_key" ON "TrainingRound"("resultVersionId");

-- CreateIndex
CREATE INDEX "TrainingRound_status_idx" ON "TrainingRound"("status");

-- CreateIndex
CREATE INDEX "RoundVote_voteId_idx" ON "RoundVote"("voteId");

-- AddForeignKey
ALTER TABLE "Session" ADD CONSTRAINT "Session_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Prompt" ADD CONSTRAINT "Prompt_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "PolicyVersion" ADD CONSTRAINT "PolicyVersion_parentId_fkey" FOREIGN KEY ("parentId") REFERENCES "PolicyVersion"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Battle" ADD CONSTRAINT "Battle_promptId_fkey" FOREIGN KEY ("promptId") REFERENCES "Prompt"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Battle" ADD CONSTRAINT "Battle_labelerId_fkey" FOREIGN KEY ("labelerId") REFERENCES "User"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Battle" ADD CONSTRAINT "Battle_policyAId_fkey" FOREIGN KEY ("policyAId") REFERENCES "PolicyVersion"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Battle" ADD CONSTRAINT "Battle_policyBId_fkey" FOREIGN KEY ("policyBId") REFERENCES "PolicyVersion"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Completion" ADD CONSTRAINT "Completion_battleId_fkey" FOREIGN KEY ("battleId") REFERENCES "Battle"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Completion" ADD CONSTRAINT "Completion_promptId_fkey" FOREIGN KEY ("promptId") REFERENCES "Prompt"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Completion" ADD CONSTRAINT "Completion_policyVersionId_fkey" FOREIGN KEY ("policyVersionId") REFERENCES "PolicyVersion"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "RefLogprob" ADD CONSTRAINT "RefLogprob_completionId_fkey" FOREIGN KEY ("completionId") REFERENCES "Completion"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "RefLogprob" ADD CONSTRAINT "RefLogprob_policyVersionId_fkey" FOREIGN KEY ("policyVersionId") REFERENCES "PolicyVersion"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Vote" ADD CONSTRAINT "Vote_battleId_fkey" FOREIGN KEY ("battleId") REFERENCES "Battle"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Vote" ADD CONSTRAINT "Vote_labelerId_fkey" FOREIGN KEY ("labelerId") REFERENCES "User"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "TrainingRound" ADD CONSTRAINT "TrainingRound_baseVersionId_fkey" FOREIGN KEY ("baseVersionId") REFERENCES "PolicyVersion"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "TrainingRound" ADD CONSTRAINT "TrainingRound_referenceVersionId_fkey" FOREIGN KEY ("referenceVersionId") REFERENCES "PolicyVersion"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "TrainingRound" ADD CONSTRAINT "TrainingRound_resultVersionId_fkey" FOREIGN KEY ("resultVersionId") REFERENCES "PolicyVersion"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "RoundMetric" ADD CONSTRAINT "RoundMetric_roundId_fkey" FOREIGN KEY ("roundId") REFERENCES "TrainingRound"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "RoundVote" ADD CONSTRAINT "RoundVote_roundId_fkey" FOREIGN KEY ("roundId") REFERENCES "TrainingRound"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "RoundVote" ADD CONSTRAINT "RoundVote_voteId_fkey" FOREIGN KEY ("voteId") REFERENCES "Vote"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- At most one policy version is served at a time (not expressible in schema.prisma).
CREATE UNIQUE INDEX "PolicyVersion_one_serving" ON "PolicyVersion" ((true)) WHERE "status" = 'SERVING';
