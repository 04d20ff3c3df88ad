-- The online loop runs one training round at a time. Enforced here rather than by convention:
-- two trainers (or an admin and the schedule) racing to start a round cannot both succeed.
CREATE UNIQUE INDEX "TrainingRound_one_active_key" ON "TrainingRound" ((true)) WHERE "status" IN ('QUEUED', 'RUNNING');

-- Finding the votes not yet used by a round, and the rounds whose lease expired.
CREATE INDEX "TrainingRound_status_leaseExpiresAt_idx" ON "TrainingRound" ("status", "leaseExpiresAt");
