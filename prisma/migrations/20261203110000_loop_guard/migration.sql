-- Issue 13 (keep the loop KL-constrained) and issue 19 (one loop configuration).
--
-- 1. A persistent held-out split by normalized prompt text: a prompt's side is decided once
--    and kept, so duplicates and overlap copies of one text never straddle train and held-out,
--    and changing the held-out share later never moves trained-on prompts into the held-out set.
-- normalize() needs a UTF8 server; a cluster initialised under the C locale (SQL_ASCII, e.g. an
-- embedded PostgreSQL started without LANG) still gets case and whitespace folding.
CREATE FUNCTION "prompt_text_key"(t text) RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT md5(regexp_replace(lower(btrim(
           CASE WHEN current_setting('server_encoding') = 'UTF8' THEN normalize(t, NFKC) ELSE t END)), '\s+', ' ', 'g'))
$$;

CREATE TABLE "PromptSplit" (
    "key" TEXT NOT NULL,
    "split" "PairSplit" NOT NULL,
    "assignedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "PromptSplit_pkey" PRIMARY KEY ("key")
);
CREATE INDEX "PromptSplit_split_assignedAt_idx" ON "PromptSplit" ("split", "assignedAt");

-- 2. What a round used (new / returned / serving-vs-earlier / held-out pairs) and a note for
--    outcomes that are not errors (e.g. gates passed but the base stopped serving meanwhile).
ALTER TABLE "TrainingRound" ADD COLUMN "usage" JSONB;
ALTER TABLE "TrainingRound" ADD COLUMN "note" TEXT;

-- 3. The loop settings now use the library's field names (no renaming layer): learningRate → lr,
--    batchPairs → batchSize. Rows written by earlier versions are rewritten in place, and so are
--    queued rounds' saved configurations (a round queued before the upgrade runs after it).
UPDATE "Setting"
   SET value = (value - 'learningRate' - 'batchPairs')
               || CASE WHEN value ? 'learningRate' AND NOT value ? 'lr' THEN jsonb_build_object('lr', value->'learningRate') ELSE '{}'::jsonb END
               || CASE WHEN value ? 'batchPairs' AND NOT value ? 'batchSize' THEN jsonb_build_object('batchSize', value->'batchPairs') ELSE '{}'::jsonb END
 WHERE key = 'dpo' AND jsonb_typeof(value) = 'object' AND (value ? 'learningRate' OR value ? 'batchPairs');

UPDATE "TrainingRound"
   SET config = jsonb_set(config, '{dpo}',
                 ((config->'dpo') - 'learningRate' - 'batchPairs')
                 || CASE WHEN config->'dpo' ? 'learningRate' AND NOT config->'dpo' ? 'lr' THEN jsonb_build_object('lr', config->'dpo'->'learningRate') ELSE '{}'::jsonb END
                 || CASE WHEN config->'dpo' ? 'batchPairs' AND NOT config->'dpo' ? 'batchSize' THEN jsonb_build_object('batchSize', config->'dpo'->'batchPairs') ELSE '{}'::jsonb END)
 WHERE jsonb_typeof(config->'dpo') = 'object' AND (config->'dpo' ? 'learningRate' OR config->'dpo' ? 'batchPairs');

-- 4. The gates are now tests (minimum held-out size, a one-sided improvement test, KL upper
--    bounds at the served length, a drift budget from the lineage root). The absolute accuracy
--    and loss thresholds are gone; a KL budget left at the old default of 8 nats (measured on
--    32-token samples) takes the new default, which is measured at the served length.
UPDATE "Setting"
   SET value = (value - 'minHeldoutAccuracy' - 'maxHeldoutLoss')
               - CASE WHEN value->'klBudget' = '8'::jsonb THEN 'klBudget' ELSE '' END
 WHERE key = 'gates' AND jsonb_typeof(value) = 'object';

UPDATE "TrainingRound"
   SET config = jsonb_set(config, '{gates}', ((config->'gates') - 'minHeldoutAccuracy' - 'maxHeldoutLoss')
                 - CASE WHEN config->'gates'->'klBudget' = '8'::jsonb THEN 'klBudget' ELSE '' END)
 WHERE status = 'QUEUED' AND jsonb_typeof(config->'gates') = 'object';
