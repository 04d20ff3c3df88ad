// `npm run cli -- ratings --input FILE [--bootstrap N] [--seed S] [--anchor MODEL=RATING] [--json]`
// Ratings from FastChat clean_battle data (a JSON array or JSON lines).
import { readFile } from "node:fs/promises";
import { parseCleanBattles } from "./clean-battles.ts";
import { leaderboard } from "./leaderboard.ts";
import type { Anchor } from "./types.ts";

const USAGE = `usage: npm run cli -- ratings --input FILE [--bootstrap N] [--seed S] [--anchor MODEL=RATING] [--json]

  --input FILE           battles in FastChat clean_battle format: a JSON array or JSON lines with
                         model_a, model_b, winner (model_a|model_b|tie|tie (bothbad)), tstamp;
                         rows with "anony": false are skipped. "-" reads standard input.
  --bootstrap N          bootstrap rounds for the 95% intervals (default 100)
  --seed S               seed of the bootstrap resampling (default 0)
  --anchor MODEL=RATING  shift all ratings so MODEL has RATING (e.g. mixtral-8x7b-instruct-v0.1=1114)
  --json                 print one JSON object keyed by model instead of a table`;

interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

const processIo: Io = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

class UsageError extends Error {}

interface Args {
  input: string;
  rounds: number;
  seed: number;
  anchor?: Anchor;
  json: boolean;
}

function parseArgs(argv: string[]): Args | "help" {
  let input: string | undefined;
  let rounds = 100;
  let seed = 0;
  let anchor: Anchor | undefined;
  let json = false;
  for (let k = 0; k < argv.length; k++) {
    const arg = argv[k];
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      if (eq > 0) return arg.slice(eq + 1);
      const v = argv[++k];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case "--help":
      case "-h":
        return "help";
      case "--json":
        json = true;
        break;
      case "--input":
        input = value();
        break;
      case "--bootstrap": {
        const v = value();
        rounds = Number(v);
        if (!/^\d+$/.test(v) || rounds < 1) throw new UsageError(`--bootstrap must be a positive integer, got "${v}"`);
        break;
      }
      case "--seed": {
        const v = value();
        seed = Number(v);
        if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(seed)) throw new UsageError(`--seed must be an integer, got "${v}"`);
        break;
      }
      case "--anchor": {
        const v = value();
        const at = v.lastIndexOf("=");
        const rating = Number(v.slice(at + 1));
        if (at <= 0 || v.slice(at + 1).trim() === "" || !Number.isFinite(rating)) {
          throw new UsageError(`--anchor must look like MODEL=RATING (e.g. gpt-4=1200), got "${v}"`);
        }
        anchor = { model: v.slice(0, at), rating };
        break;
      }
      default:
        throw new UsageError(`unknown argument "${arg}"`);
    }
  }
  if (!input) throw new UsageError("--input FILE is required");
  return { input, rounds, seed, anchor, json };
}

export async function run(argv: string[], io: Io = processIo): Promise<number> {
  let args: Args | "help";
  try {
    args = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err(`ratings: ${e.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (args === "help") {
    io.out(`${USAGE}\n`);
    return 0;
  }
  let text: string;
  try {
    text = args.input === "-" ? await readStdin() : await readFile(args.input, "utf8");
  } catch (e) {
    io.err(`ratings: cannot read ${args.input}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
    return 2;
  }
  let board;
  try {
    const battles = parseCleanBattles(text);
    board = leaderboard(battles, { rounds: args.rounds, seed: args.seed, anchor: args.anchor });
  } catch (e) {
    io.err(`ratings: ${args.input}: ${(e as Error).message}\n`);
    return 2;
  }
  if (board.rows.length === 0) {
    io.err(`ratings: ${args.input} has no rated battles (self-battles and non-anonymous rows do not count)\n`);
    return 2;
  }
  if (!board.converged) {
    io.err(
      "ratings: warning: the Bradley–Terry maximum does not exist (some model or group never lost or never won); its ratings are unbounded\n",
    );
  }
  if (args.json) {
    const out = Object.fromEntries(
      board.rows.map((r) => [r.model, { elo: r.elo, bt: r.rating, ci: r.ci, rank: r.rank, battles: r.battles }]),
    );
    io.out(`${JSON.stringify(out)}\n`);
    return 0;
  }
  const header = ["rank", "model", "bt", "95% CI", "elo", "battles"];
  const lines = board.rows.map((r) => [
    String(r.rank),
    r.model,
    r.rating.toFixed(1),
    `${(r.ci[0] - r.rating).toFixed(1)}/+${(r.ci[1] - r.rating).toFixed(1)}`,
    r.elo.toFixed(1),
    String(r.battles),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...lines.map((l) => l[c].length)));
  const fmt = (cols: string[]) => cols.map((s, c) => (c === 1 ? s.padEnd(widths[c]) : s.padStart(widths[c]))).join("  ");
  io.out(`${[fmt(header), ...lines.map(fmt)].join("\n")}\n`);
  io.out(
    `\n${board.totalBattles} battles` +
      (board.selfBattles ? ` (${board.selfBattles} self-battles not rated)` : "") +
      `, ${board.bootstrapRounds} bootstrap rounds, seed ${board.seed}` +
      (board.anchor ? `, anchored ${board.anchor.model}=${board.anchor.rating}` : "") +
      "\n",
  );
  return 0;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
