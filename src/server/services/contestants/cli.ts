// `npm run cli -- contestants add|list|remove|check`: manage external contestants from a shell,
// against the database in DATABASE_URL. The endpoint's API key comes from --api-key or, kept out
// of the shell history, from a file (--api-key-file).
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { createPrismaClient } from "../../db/client.ts";
import { getEnv } from "../../env.ts";
import { AppError } from "../../errors.ts";
import { addContestant, type ContestantSummary, checkContestant, listContestants, removeContestant } from "./manage.ts";

const USAGE = `usage:
  npm run cli -- contestants add --name NAME --base-url URL --model MODEL [--api chat|completions] [--api-key KEY | --api-key-file FILE]
  npm run cli -- contestants list
  npm run cli -- contestants check ID
  npm run cli -- contestants remove ID
(storing an API key needs CONTESTANT_SECRET_KEY set, to encrypt it at rest)`;

function parseCommandLine(args: string[], allowPositionals: boolean) {
  return parseArgs({
    args,
    allowPositionals,
    options: {
      name: { type: "string" },
      "base-url": { type: "string" },
      model: { type: "string" },
      api: { type: "string" },
      "api-key": { type: "string" },
      "api-key-file": { type: "string" },
    },
  });
}

function line(c: ContestantSummary): string {
  return [
    c.id,
    JSON.stringify(c.name),
    c.baseUrl,
    c.model,
    c.api,
    c.hasApiKey ? "key" : "no key",
    c.enabled ? "enabled" : "disabled",
    c.status,
    `last success ${c.lastSuccessAt?.toISOString() ?? "never"}`,
    `last error ${c.lastErrorAt?.toISOString() ?? "never"}${c.status === "unreachable" && c.lastError ? ` (${c.lastError})` : ""}`,
    `${c.battles} battles, ${c.votes} voted`,
  ].join("\t");
}

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== "add" && sub !== "list" && sub !== "remove" && sub !== "check") {
    console.error(USAGE);
    return 2;
  }
  let args: ReturnType<typeof parseCommandLine>;
  try {
    args = parseCommandLine(rest, sub === "remove" || sub === "check");
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
    if (sub === "add") {
      const { name, "base-url": baseUrl, model, api, "api-key": keyArg, "api-key-file": keyFile } = args.values;
      if (!name || !baseUrl || !model) {
        console.error(`--name, --base-url and --model are required\n${USAGE}`);
        return 2;
      }
      if (keyArg && keyFile) {
        console.error(`give --api-key or --api-key-file, not both\n${USAGE}`);
        return 2;
      }
      let apiKey = keyArg;
      if (keyFile) {
        try {
          apiKey = (await readFile(keyFile, "utf8")).trim();
        } catch (err) {
          console.error(`cannot read --api-key-file ${keyFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
          return 2;
        }
      }
      const c = await addContestant({ db, input: { name, baseUrl, model, api: api as "chat" | "completions" | undefined, apiKey } });
      console.log(
        `registered contestant ${c.id} "${c.name}" (${c.baseUrl}, model ${c.model}${c.hasApiKey ? ", API key stored encrypted" : ""})`,
      );
      return 0;
    }
    if (sub === "list") {
      for (const c of await listContestants({ db })) console.log(line(c));
      return 0;
    }
    const id = Number(args.positionals[0]);
    if (!Number.isInteger(id) || id <= 0) {
      console.error(`${sub} needs the contestant's id (see contestants list)\n${USAGE}`);
      return 2;
    }
    if (sub === "check") {
      const c = await checkContestant({ db, id });
      console.log(line(c));
      return c.status === "ok" ? 0 : 1;
    }
    const removed = await removeContestant({ db, id });
    console.log(`removed contestant ${removed.id} "${removed.name}": no more battles; its ratings stay on the leaderboard`);
    return 0;
  } catch (err) {
    if (err instanceof AppError) console.error(err.userMessage);
    else throw err;
    return 1;
  } finally {
    await db.$disconnect();
  }
}
