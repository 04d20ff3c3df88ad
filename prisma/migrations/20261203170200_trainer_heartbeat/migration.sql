-- Trainers say they are alive: each refreshes its row on every maintenance tick (a few
-- seconds) and deletes it when it stops, so the web's health check can report the trainer part.
CREATE TABLE "TrainerHeartbeat" (
    "workerId" TEXT NOT NULL,
    "pid" INTEGER NOT NULL,
    "host" TEXT NOT NULL,
    "startedAt" TIMESTAMP(3) NOT NULL,
    "seenAt" TIMESTAMP(3) NOT NULL,
    CONSTRAINT "TrainerHeartbeat_pkey" PRIMARY KEY ("workerId")
);

CREATE INDEX "TrainerHeartbeat_seenAt_idx" ON "TrainerHeartbeat"("seenAt");
