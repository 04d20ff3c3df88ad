-- Sign-in attempts per key (an address, an address × username), shared by every web replica.
-- A row is a fixed window: "failures" counts attempts that were not successful sign-ins,
-- reserved before the password is checked so that concurrent guesses cannot overrun the limit.
CREATE TABLE "LoginThrottle" (
    "key" TEXT NOT NULL,
    "failures" INTEGER NOT NULL DEFAULT 0,
    "windowStart" TIMESTAMP(3) NOT NULL,
    CONSTRAINT "LoginThrottle_pkey" PRIMARY KEY ("key")
);

CREATE INDEX "LoginThrottle_windowStart_idx" ON "LoginThrottle"("windowStart");
