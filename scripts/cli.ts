// `npm run cli -- <command> …`: one entry point for the project's command-line tools.
// Each command lives beside the library it drives and exports `run(argv): Promise<number>`;
// its options are declared once with src/cli/args.ts, which also writes its --help.
import { formatSubcommands } from "../src/cli/args.ts";

const commands: Record<string, { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> }> = {
  sample: { summary: "sample completions from a checkpoint", load: () => import("../src/lm/cli/sample.ts") },
  logprobs: { summary: "score prompt/chosen/rejected JSONL with a checkpoint", load: () => import("../src/lm/cli/logprobs.ts") },
  "import-model": {
    summary: "validate a Hugging Face model directory and register it as a new base version",
    load: () => import("../src/server/services/models/cli.ts"),
  },
  ratings: { summary: "Elo / Bradley–Terry ratings from FastChat clean_battle data", load: () => import("../src/rating/cli.ts") },
  "reset-admin-password": resetAdminPasswordCommand(),
  "import-preferences": {
    summary: "import a TRL or Anthropic HH preference file as offline DPO pairs (--format trl|hh)",
    load: () => import("../src/server/services/preference-import/cli.ts"),
  },
  "api-keys": {
    summary: "create, list or revoke API keys (create prints the key once)",
    load: () => import("../src/server/services/api-keys/cli.ts"),
  },
  contestants: {
    summary: "add, list, check or remove external contestants (OpenAI-compatible endpoints)",
    load: () => import("../src/server/services/contestants/cli.ts"),
  },
};

/** A lost first-start admin password: set a new one (src/server/services/auth/reset-admin-password.ts). */
function resetAdminPasswordCommand() {
  return {
    summary: "set a new admin password and print it once",
    load: () => import("../src/server/services/auth/reset-admin-password.ts"),
  };
}

async function main(): Promise<number> {
  const [name, ...rest] = process.argv.slice(2);
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    // no command at all is a question, not a mistake: the list, exit 0 (on stderr, as before, unless asked for)
    (name === undefined ? console.error : console.log)(formatSubcommands("npm run cli --", commands));
    return 0;
  }
  const cmd = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!cmd) {
    console.error(`unknown command "${name}"\n\n${formatSubcommands("npm run cli --", commands)}`);
    return 2;
  }
  return (await cmd.load()).run(rest);
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
