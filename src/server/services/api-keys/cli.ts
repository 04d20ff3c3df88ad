// `npm run cli -- api-keys create|list|revoke`: manage API keys from a shell, against the
// database in DATABASE_URL. `create` prints the key once; only its sha256 is stored.
import { parseArgs } from "node:util";
import { createPrismaClient } from "../../db/client.ts";
import { getEnv } from "../../env.ts";
import { AppError } from "../../errors.ts";
import { API_KEY_SCOPES, createApiKey, listApiKeys, revokeApiKey } from "./keys.ts";

const USAGE = `usage:
  npm run cli -- api-keys create --name NAME --scopes ${API_KEY_SCOPES.join(",")} [--rate-limit PER_MINUTE]
  npm run cli -- api-keys list
  npm run cli -- api-keys revoke ID`;

function parseCommandLine(args: string[], allowPositionals: boolean) {
  return parseArgs({
    args,
    allowPositionals,
    options: { name: { type: "string" }, scopes: { type: "string" }, "rate-limit": { type: "string" } },
  });
}

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== "create" && sub !== "list" && sub !== "revoke") {
    console.error(USAGE);
    return 2;
  }
  let args: ReturnType<typeof parseCommandLine>;
  try {
    args = parseCommandLine(rest, sub === "revoke");
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const url = getEnv().DATABASE_URL;
  if (!url) {
    console.error("DATABASE_URL is not set: point it at the arena's database (npm start prints it when it runs an embedded one)");
    return 2;
  }
  const db = createPrismaClient(url);
  try {
    if (sub === "create") {
      const { name, scopes, "rate-limit": rate } = args.values;
      if (!name || !scopes) {
        console.error(`--name and --scopes are required\n${USAGE}`);
        return 2;
      }
      const rateLimitPerMinute = rate === undefined ? undefined : Number(rate);
      const { key, apiKey } = await createApiKey({
        db,
        name,
        scopes: scopes
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean),
        rateLimitPerMinute,
      });
      console.log(
        `created API key ${apiKey.id} "${apiKey.name}" (scopes: ${apiKey.scopes.join(", ")}; ${apiKey.rateLimitPerMinute} requests/minute)`,
      );
      console.log("the key is shown only now; store it somewhere safe:");
      console.log(key);
      return 0;
    }
    if (sub === "list") {
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
    const id = args.positionals[0];
    if (!id) {
      console.error(`revoke needs the key's id (see api-keys list)\n${USAGE}`);
      return 2;
    }
    await revokeApiKey({ db, id });
    console.log(`revoked API key ${id}; requests with it are refused from now on`);
    return 0;
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
