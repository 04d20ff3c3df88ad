// `npm run cli -- import-model DIR --name NAME [--serve]`: the Models page's import from a
// shell, against the database in DATABASE_URL and the store in CHECKPOINT_DIR.
import path from "node:path";
import { type CommandSpec, runCommand, usageError } from "../../../cli/args.ts";
import { createPrismaClient } from "../../db/client.ts";
import { getEnv } from "../../env.ts";
import { AppError } from "../../errors.ts";
import { DirectoryCheckpointStore } from "../../policy/checkpoint-store.ts";
import { importModel } from "./import-model.ts";

const SPEC = {
  command: "npm run cli -- import-model",
  description: `Validates the Hugging Face model directory DIR on this machine (config.json, every tensor's
name, shape and dtype, tokenizer, a one-token forward pass), copies its model files into
CHECKPOINT_DIR and registers it as a new base version (CANDIDATE, its own lineage root).`,
  positionals: [{ name: "DIR", required: true, help: "the model directory on this machine" }],
  options: {
    name: { type: "string", value: "NAME", required: true, help: "the name shown for the model (e.g. SmolLM2-135M-Instruct)" },
    serve: { type: "boolean", help: "serve it now (otherwise serve it later from Admin → Models)" },
  },
} as const satisfies CommandSpec;

export function run(argv: string[]): Promise<number> {
  return runCommand(SPEC, argv, ({ values, positionals }) => {
    if (!values.name.trim()) throw usageError(SPEC, "--name must not be blank");
    return importFromShell(positionals[0]!, values.name.trim(), values.serve);
  });
}

async function importFromShell(modelDir: string, name: string, serve: boolean): Promise<number> {
  const env = getEnv();
  if (!env.DATABASE_URL) {
    console.error("DATABASE_URL is not set: point it at the arena's database (npm start prints it when it runs an embedded one)");
    return 2;
  }
  const dir = path.resolve(modelDir);
  const db = createPrismaClient(env.DATABASE_URL);
  try {
    const r = await importModel({
      db,
      store: new DirectoryCheckpointStore(path.resolve(env.CHECKPOINT_DIR)),
      dir,
      name,
      serve,
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
    if (serve) console.log(r.served ? `serving ${r.version.name} now` : `not served: ${r.serveError}`);
    else console.log(`serve it from Admin → Models, or run again with --serve`);
    return serve && !r.served ? 1 : 0;
  } catch (err) {
    console.error(`import failed, nothing was registered: ${err instanceof AppError ? err.message : (err as Error).message}`);
    return 1;
  } finally {
    await db.$disconnect();
  }
}
