// `npm run cli -- import-preferences FILE --format trl|hh`: the Preference data page's upload
// from a shell (no size limit beyond memory), against DATABASE_URL and CHECKPOINT_DIR.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { createPrismaClient } from "../../db/client.ts";
import { getEnv } from "../../env.ts";
import { AppError } from "../../errors.ts";
import { DirectoryCheckpointStore } from "../../policy/checkpoint-store.ts";
import { importPreferences } from "./import.ts";
import { PREFERENCE_FORMATS, type PreferenceFormat } from "./parse.ts";

const USAGE = `usage: npm run cli -- import-preferences FILE --format trl|hh

Imports a preference dataset (JSON lines) as offline DPO pairs, tokenized for the model being
served. Stored whole or not at all: any bad line rejects the file, and each is listed by number.
  --format trl   {"prompt","chosen","rejected"} with strings or chat messages (TRL's forms)
  --format hh    Anthropic HH {"chosen","rejected"}: the prompt is their shared beginning
Rounds train on imported pairs when the loop setting "Train on imported preference data" is on.`;

export async function run(argv: string[]): Promise<number> {
  const parsed = (() => {
    try {
      return parseArgs({
        args: argv,
        allowPositionals: true,
        options: { format: { type: "string" }, help: { type: "boolean", short: "h" } },
      });
    } catch (err) {
      return err as Error;
    }
  })();
  if (parsed instanceof Error) {
    console.error(`${parsed.message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    console.error(`give exactly one file\n\n${USAGE}`);
    return 2;
  }
  if (!PREFERENCE_FORMATS.includes(values.format as PreferenceFormat)) {
    console.error(`--format must be trl or hh${values.format ? ` (got "${values.format}")` : ""}\n\n${USAGE}`);
    return 2;
  }
  const env = getEnv();
  if (!env.DATABASE_URL) {
    console.error("DATABASE_URL is not set: point it at the arena's database (npm start prints it when it runs an embedded one)");
    return 2;
  }
  const file = path.resolve(positionals[0]!);
  let content: string;
  try {
    content = await readFile(file, "utf8");
  } catch (err) {
    console.error(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return 2;
  }
  const db = createPrismaClient(env.DATABASE_URL);
  try {
    const r = await importPreferences({
      db,
      store: new DirectoryCheckpointStore(path.resolve(env.CHECKPOINT_DIR)),
      content,
      format: values.format as PreferenceFormat,
      filename: path.basename(file),
    });
    if (r.rejectedTotal > 0) {
      for (const x of r.rejected) console.error(`line ${x.line}: ${x.reason}`);
      if (r.rejectedTotal > r.rejected.length) console.error(`… and ${r.rejectedTotal - r.rejected.length} more rejected lines`);
      console.error(`rejected ${r.rejectedTotal} line(s); nothing was imported`);
      return 1;
    }
    console.log(
      `imported ${r.imported} pairs from ${path.basename(file)} (${r.format}), tokenized for ${r.tokenizedFor}; import id ${r.importId}`,
    );
    return 0;
  } catch (err) {
    console.error(`import failed, nothing was imported: ${err instanceof AppError ? err.userMessage : (err as Error).message}`);
    return 1;
  } finally {
    await db.$disconnect();
  }
}
