// `npm run cli -- ratings --input FILE [--bootstrap N] [--seed S] [--anchor MODEL=RATING] [--json]` (`--help` explains each).
// Ratings from FastChat clean_battle data (a JSON array or JSON lines).
import { readFile } from "node:fs/promises";
import { type CommandSpec, type Io, processIo, runCommand, usageError } from "../cli/args.ts";
import { parseCleanBattles } from "./clean-battles.ts";
import { leaderboard } from "./leaderboard.ts";
import type { Anchor } from "./types.ts";

const SPEC = {
  command: "npm run cli -- ratings",
  description: "Elo and Bradley–Terry ratings with bootstrap intervals, computed as LMSYS FastChat does.",
  options: {
    input: {
      type: "string",
      value: "FILE",
      required: true,
      help: `battles in FastChat clean_battle format: a JSON array or JSON lines with
model_a, model_b, winner (model_a|model_b|tie|tie (bothbad)), tstamp;
rows with "anony": false are skipped. "-" reads standard input.`,
    },
    bootstrap: { type: "number", integer: true, above: 0, default: 100, help: "bootstrap rounds for the 95% intervals" },
    seed: { type: "number", integer: true, default: 0, help: "seed of the bootstrap resampling" },
    anchor: {
      type: "string",
      value: "MODEL=RATING",
      help: "shift all ratings so MODEL has RATING (e.g. mixtral-8x7b-instruct-v0.1=1114)",
    },
    json: { type: "boolean", help: "print one JSON object keyed by model instead of a table" },
  },
} as const satisfies CommandSpec;

/** `--anchor MODEL=RATING` → { model, rating }; a model name may itself contain "=". */
function parseAnchor(v: string): Anchor {
  const at = v.lastIndexOf("=");
  const rating = Number(v.slice(at + 1));
  if (at <= 0 || v.slice(at + 1).trim() === "" || !Number.isFinite(rating))
    throw usageError(SPEC, `--anchor must look like MODEL=RATING (e.g. gpt-4=1200), got "${v}"`);
  return { model: v.slice(0, at), rating };
}

export async function run(argv: string[], io: Io = processIo): Promise<number> {
  return runCommand(
    SPEC,
    argv,
    ({ values }) =>
      ratings(
        {
          input: values.input,
          rounds: values.bootstrap,
          seed: values.seed,
          anchor: values.anchor === undefined ? undefined : parseAnchor(values.anchor),
          json: values.json,
        },
        io,
      ),
    io,
  );
}

async function ratings(args: { input: string; rounds: number; seed: number; anchor?: Anchor; json: boolean }, io: Io): Promise<number> {
  let text: string;
  try {
    text = args.input === "-" ? await readStdin() : await readFile(args.input, "utf8");
  } catch (e) {
    io.err(`ratings: cannot read ${args.input}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
    return 2;
  }
  let board: ReturnType<typeof leaderboard>;
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
