// `npm run cli -- api-keys create|list|revoke`: manage API keys from a shell, against the
// database in DATABASE_URL. `create` prints the key once; only its sha256 is stored.
import { type CommandSpec, formatSubcommands, runCommand } from "../../../cli/args.ts";
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { createPrismaClient } from "../../db/client.ts";
import { getEnv } from "../../env.ts";
import { AppError } from "../../errors.ts";
import { API_KEY_SCOPES, createApiKey, listApiKeys, revokeApiKey } from "./keys.ts";

const COMMAND = "npm run cli -- api-keys";
const SUBCOMMANDS = {
  create: {
    summary: "create a key and print it once",
    spec: {
      command: `${COMMAND} create`,
      options: {
        name: { type: "string", value: "NAME", required: true, help: "what the key is for (shown in the console)" },
        scopes: { type: "string", value: "SCOPES", required: true, help: `comma-separated, of ${API_KEY_SCOPES.join(", ")}` },
        "rate-limit": { type: "number", value: "PER_MINUTE", help: "requests per minute allowed (default 60)" },
      },
    },
  },
  list: { summary: "list keys (never the keys themselves)", spec: { command: `${COMMAND} list`, options: {} } },
  revoke: {
    summary: "revoke a key at once on every web replica",
    spec: { command: `${COMMAND} revoke`, positionals: [{ name: "ID", required: true, help: "the key's id (see list)" }], options: {} },
  },
} as const satisfies Record<string, { summary: string; spec: CommandSpec }>;

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === "--help" || sub === "-h") {
    console.log(formatSubcommands(COMMAND, SUBCOMMANDS));
    return 0;
  }
  if (sub === "create") return runCommand(SUBCOMMANDS.create.spec, rest, ({ values }) => withDb((db) => create(db, values)));
  if (sub === "list") return runCommand(SUBCOMMANDS.list.spec, rest, () => withDb(list));
  if (sub === "revoke") return runCommand(SUBCOMMANDS.revoke.spec, rest, ({ positionals }) => withDb((db) => revoke(db, positionals[0]!)));
  console.error(
    `${sub === undefined ? "which api-keys command?" : `unknown api-keys command "${sub}"`}\n${formatSubcommands(COMMAND, SUBCOMMANDS)}`,
  );
  return 2;
}

async function withDb(body: (db: PrismaClient) => Promise<number>): Promise<number> {
  const url = getEnv().DATABASE_URL;
  if (!url) {
    console.error("DATABASE_URL is not set: point it at the arena's database (npm start prints it when it runs an embedded one)");
    return 2;
  }
  const db = createPrismaClient(url);
  try {
    return await body(db);
  } catch (err) {
    // zod's messages for bad names / scopes / limits, AppError's for unknown or revoked keys
    const issues = (err as { issues?: { message: string }[] }).issues;
    if (issues) console.error(issues.map((i) => i.message).join("; "));
    else if (err instanceof AppError) console.error(err.userMessage);
    else throw err;
    return 1;
  } finally {
    await db.$disconnect();
  }
}

async function create(db: PrismaClient, values: { name: string; scopes: string; "rate-limit": number | undefined }): Promise<number> {
  const { key, apiKey } = await createApiKey({
    db,
    name: values.name,
    scopes: values.scopes
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
    rateLimitPerMinute: values["rate-limit"],
  });
  console.log(
    `created API key ${apiKey.id} "${apiKey.name}" (scopes: ${apiKey.scopes.join(", ")}; ${apiKey.rateLimitPerMinute} requests/minute)`,
  );
  console.log("the key is shown only now; store it somewhere safe:");
  console.log(key);
  return 0;
}

async function list(db: PrismaClient): Promise<number> {
  for (const k of await listApiKeys({ db })) {
    const state = k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : "active";
    console.log(
      [
        k.id,
        `${k.prefix}…`,
        JSON.stringify(k.name),
        k.scopes.join(","),
        `${k.rateLimitPerMinute}/min`,
        `last used ${k.lastUsedAt?.toISOString() ?? "never"}`,
        state,
      ].join("\t"),
    );
  }
  return 0;
}

async function revoke(db: PrismaClient, id: string): Promise<number> {
  await revokeApiKey({ db, id });
  console.log(`revoked API key ${id}; requests with it are refused from now on`);
  return 0;
}
