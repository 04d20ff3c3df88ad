-- Issue 17: API keys for other programs, their per-minute usage (counted in the database so
-- every web replica enforces the same limit), the completions the /v1 API served and the
-- preferences programs send back on them. Kept apart from Battle/Completion/Vote: an API
-- completion has no battle or labeler, and API votes must stay distinguishable by source.

-- CreateTable
CREATE TABLE "ApiKey" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "hash" TEXT NOT NULL,
    "scopes" TEXT[],
    "rateLimitPerMinute" INTEGER NOT NULL DEFAULT 60,
    "createdById" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastUsedAt" TIMESTAMP(3),
    "revokedAt" TIMESTAMP(3),

    CONSTRAINT "ApiKey_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ApiKeyUsage" (
    "apiKeyId" TEXT NOT NULL,
    "windowStart" TIMESTAMP(3) NOT NULL,
    "count" INTEGER NOT NULL,

    CONSTRAINT "ApiKeyUsage_pkey" PRIMARY KEY ("apiKeyId","windowStart")
);

-- CreateTable
CREATE TABLE "ApiCompletion" (
    "id" TEXT NOT NULL,
    "apiKeyId" TEXT NOT NULL,
    "endpoint" TEXT NOT NULL,
    "policyVersionId" INTEGER NOT NULL,
    "messages" JSONB,
    "promptText" TEXT NOT NULL,
    "promptTokenIds" INTEGER[],
    "tokenIds" INTEGER[],
    "text" TEXT NOT NULL,
    "logprob" DOUBLE PRECISION,
    "temperature" DOUBLE PRECISION NOT NULL,
    "topP" DOUBLE PRECISION NOT NULL,
    "maxNewTokens" INTEGER NOT NULL,
    "seed" INTEGER NOT NULL,
    "finishReason" TEXT NOT NULL,
    "latencyMs" INTEGER NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ApiCompletion_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ApiPreference" (
    "id" TEXT NOT NULL,
    "apiKeyId" TEXT NOT NULL,
    "completionAId" TEXT NOT NULL,
    "completionBId" TEXT NOT NULL,
    "choice" "VoteChoice" NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ApiPreference_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "ApiKey_hash_key" ON "ApiKey"("hash");

-- CreateIndex
CREATE INDEX "ApiCompletion_apiKeyId_createdAt_idx" ON "ApiCompletion"("apiKeyId", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "ApiPreference_completionAId_completionBId_key" ON "ApiPreference"("completionAId", "completionBId");

-- CreateIndex
CREATE INDEX "ApiPreference_createdAt_idx" ON "ApiPreference"("createdAt");

-- AddForeignKey
ALTER TABLE "ApiKeyUsage" ADD CONSTRAINT "ApiKeyUsage_apiKeyId_fkey" FOREIGN KEY ("apiKeyId") REFERENCES "ApiKey"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ApiCompletion" ADD CONSTRAINT "ApiCompletion_apiKeyId_fkey" FOREIGN KEY ("apiKeyId") REFERENCES "ApiKey"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ApiCompletion" ADD CONSTRAINT "ApiCompletion_policyVersionId_fkey" FOREIGN KEY ("policyVersionId") REFERENCES "PolicyVersion"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ApiPreference" ADD CONSTRAINT "ApiPreference_apiKeyId_fkey" FOREIGN KEY ("apiKeyId") REFERENCES "ApiKey"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ApiPreference" ADD CONSTRAINT "ApiPreference_completionAId_fkey" FOREIGN KEY ("completionAId") REFERENCES "ApiCompletion"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ApiPreference" ADD CONSTRAINT "ApiPreference_completionBId_fkey" FOREIGN KEY ("completionBId") REFERENCES "ApiCompletion"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- A preference is one unordered pair: the service stores the smaller id as A (flipping the
-- choice), and the database refuses anything else, so (x, y) and (y, x) cannot both exist.
ALTER TABLE "ApiPreference" ADD CONSTRAINT "ApiPreference_ordered_pair" CHECK ("completionAId" < "completionBId" COLLATE "C");
