// `npm run cli -- import-model DIR --name NAME [--serve]`: the Models page's import from a
// shell, against the database in DATABASE_URL and the store in CHECKPOINT_DIR.
import path from "node:path";
import { parseArgs } from "node:util";
import { createPrismaClient } from "../../db/client.ts";
import { getEnv } from "../../env.ts";
import { AppError } from "../../errors.ts";
import { DirectoryCheckpointStore } from "../../policy/checkpoint-store.ts";
import { importModel } from "./import-model.ts";

const USAGE = `usage: npm run cli -- import-model DIR --name NAME [--serve]

Validates the Hugging Face model directory DIR on this machine (config.json, every tensor's
name, shape and dtype, tokenizer, a one-token forward pass), copies its model files into
CHECKPOINT_DIR and registers it as a new base version (CANDIDATE, its own lineage root).
  --name NAME   the name shown for the model (e.g. SmolLM2-135M-Instruct)
  --serve       serve it now (otherwise serve it later from Admin → Models)`;

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { name: { type: "string" }, serve: { type: "boolean", default: false }, help: { type: "boolean", short: "h" } },
    });
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1 || !values.name?.trim()) {
    console.error(`${positionals.length !== 1 ? "give exactly one model directory" : "--name is required"}\n\n${USAGE}`);
    return 2;
  }
  const env = getEnv();
  if (!env.DATABASE_URL) {
    console.error("DATABASE_URL is not set: point it at the arena's database (npm start prints it when it runs an embedded one)");
    return 2;
  }
  const dir = path.resolve(positionals[0]!);
  const db = createPrismaClient(env.DATABASE_URL);
  try {
    const r = await importModel({
      db,
      store: new DirectoryCheckpointStore(path.resolve(env.CHECKPOINT_DIR)),
      dir,
      name: values.name.trim(),
      serve: values.serve ?? false,
      validate: { backend: env.TF_BACKEND },
    });
    const m = r.report;
    console.log(`validated ${m.dir}
  architecture   ${m.architecture}
  parameters     ${m.parameterCount.toLocaleString("en-US")}
  vocabulary     ${m.vocabSize} (tokenizer: ${m.tokenizer})
  context        ${m.contextLength} tokens
  files          ${m.files.join(", ")} (${(m.bytes / 1e6).toFixed(1)} MB)
  forward pass   ok (log-prob of one token: ${m.probeLogprob.toFixed(3)})
registered ${r.version.name} "${r.version.displayName}" as ${r.version.status}, its own lineage root
  checkpoint     ${r.version.checkpointUri}
  sha256         ${r.version.checkpointSha256}`);
    if (values.serve) console.log(r.served ? `serving ${r.version.name} now` : `not served: ${r.serveError}`);
    else console.log(`serve it from Admin → Models, or run again with --serve`);
    return values.serve && !r.served ? 1 : 0;
  } catch (err) {
    console.error(`import failed, nothing was registered: ${err instanceof AppError ? err.message : (err as Error).message}`);
    return 1;
  } finally {
    await db.$disconnect();
  }
}
