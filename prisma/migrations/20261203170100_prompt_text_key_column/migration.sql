-- Issue 13 follow-up: the normalized prompt key is stored, indexed and kept by a trigger.
--
-- Until now every pair query, every readiness poll of the schedule and every round's split
-- assignment computed prompt_text_key(p.text) (NFKC, lower-case, whitespace folding, md5) for
-- every vote's prompt and joined PromptSplit on the result, with no index to use. The key is a
-- pure function of the text; it is now computed once, when a prompt is written.
--
-- prompt_text_key reads server_encoding, which is fixed when a database is created, so for a
-- given database it is a pure function of its argument: IMMUTABLE is true, and lets it be used
-- in an index expression should anyone want one.
ALTER FUNCTION "prompt_text_key"(text) IMMUTABLE;

ALTER TABLE "Prompt" ADD COLUMN "textKey" TEXT NOT NULL DEFAULT '';

CREATE FUNCTION "prompt_set_text_key"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW."textKey" := prompt_text_key(NEW.text);
  RETURN NEW;
END
$$;

-- BEFORE: whatever a client writes into textKey (Prisma sends its default '') is replaced.
CREATE TRIGGER "Prompt_text_key"
  BEFORE INSERT OR UPDATE OF text, "textKey" ON "Prompt"
  FOR EACH ROW EXECUTE FUNCTION "prompt_set_text_key"();

UPDATE "Prompt" SET "textKey" = prompt_text_key(text);

CREATE INDEX "Prompt_textKey_idx" ON "Prompt" ("textKey");
