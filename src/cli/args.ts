// The one command-line parser of the project's tools (`npm run cli`, `npm run sim`, `npm run
// pretrain`, `npm run bench`, the trainer worker, the benchmarks). A command declares its
// options once; from that declaration this module parses (node:util parseArgs underneath),
// converts and checks values, refuses unknown options with a message that names them, and
// writes `--help`. It is a plain module: no server, Prisma, Next or React code, so the
// libraries' commands can use it too.
import { parseArgs } from "node:util";

interface OptionBase {
  /** one line (or a few, separated by \n) for --help */
  help: string;
  /** a one-letter alias, e.g. "h" for -h */
  short?: string;
}
export interface BooleanOption extends OptionBase {
  type: "boolean";
}
export interface StringOption extends OptionBase {
  type: "string";
  /** the value's placeholder in --help (default VALUE) */
  value?: string;
  default?: string;
  required?: boolean;
  choices?: readonly string[];
  /** the next word is the value even when it starts with "--" (flags passed through to another program) */
  dashValue?: boolean;
}
export interface NumberOption extends OptionBase {
  type: "number";
  /** the value's placeholder in --help (default N) */
  value?: string;
  default?: number | null;
  required?: boolean;
  integer?: boolean;
  /** smallest value allowed */
  min?: number;
  /** the value must be greater than this */
  above?: number;
  max?: number;
  /** the literal "null" gives null (e.g. "no budget") */
  nullable?: boolean;
}
export type OptionSpec = BooleanOption | StringOption | NumberOption;

export interface PositionalSpec {
  name: string;
  help?: string;
  required?: boolean;
  /** takes every remaining argument */
  variadic?: boolean;
}

export interface CommandSpec {
  /** how the command is typed, e.g. "npm run cli -- ratings" */
  command: string;
  /** a paragraph or two after the usage line */
  description?: string;
  positionals?: readonly PositionalSpec[];
  options: Readonly<Record<string, OptionSpec>>;
  /** text after the option list (examples, notes) */
  notes?: string;
}

type ValueOf<O> = O extends BooleanOption
  ? boolean
  : O extends StringOption
    ?
        | (O extends { choices: readonly (infer C extends string)[] } ? C : string)
        | (O extends { default: string } | { required: true } ? never : undefined)
    : O extends NumberOption
      ?
          | number
          | (O extends { nullable: true } ? null : never)
          | (O extends { default: number | null } | { required: true } ? never : undefined)
      : never;

export interface ParsedArgs<S extends CommandSpec> {
  values: { -readonly [K in keyof S["options"]]: ValueOf<S["options"][K]> };
  positionals: string[];
  /** the options given on the command line, as typed (for reports that record how a run was started) */
  given: Record<string, string | true>;
}

export type ParseResult<S extends CommandSpec> = ({ help: false } & ParsedArgs<S>) | { help: true; text: string };

/** Bad command-line input: the message says what is wrong; callers print it with the usage line and exit 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly usage: string,
  ) {
    super(message);
    this.name = "UsageError";
  }
}

/** A usage error found after parsing (a value the declaration cannot check), with the spec's usage line. */
export function usageError(spec: CommandSpec, message: string): UsageError {
  return new UsageError(message, usageLine(spec));
}

const HELP_OPTION: BooleanOption = { type: "boolean", short: "h", help: "show this help" };

function optionsOf(spec: CommandSpec): Record<string, OptionSpec> {
  return { ...spec.options, help: spec.options.help ?? HELP_OPTION };
}

const takesValue = (o: OptionSpec) => o.type !== "boolean";

/** The usage line: the command, its positionals, its required options, then [options]. */
export function usageLine(spec: CommandSpec): string {
  const parts = [spec.command];
  for (const p of spec.positionals ?? []) {
    const word = p.variadic ? `${p.name}…` : p.name;
    parts.push(p.required ? word : `[${word}]`);
  }
  for (const [name, o] of Object.entries(spec.options)) if (o.type !== "boolean" && o.required) parts.push(`--${name} ${placeholder(o)}`);
  if (Object.values(spec.options).some((o) => o.type === "boolean" || !o.required)) parts.push("[options]");
  return `usage: ${parts.join(" ")}`;
}

function placeholder(o: StringOption | NumberOption): string {
  return o.value ?? (o.type === "number" ? "N" : "VALUE");
}

/** --help, generated from the declaration. */
export function formatHelp(spec: CommandSpec): string {
  const out = [usageLine(spec)];
  if (spec.description) out.push("", spec.description);
  const rows: [string, string][] = [];
  for (const p of spec.positionals ?? []) if (p.help) rows.push([p.name, p.help]);
  for (const [name, o] of Object.entries(optionsOf(spec))) {
    const flag = `${o.short ? `-${o.short}, ` : ""}--${name}${takesValue(o) ? ` ${placeholder(o as StringOption | NumberOption)}` : ""}`;
    let help = o.help;
    if (o.type === "string" && o.choices && !/\bone of\b/.test(help)) help += ` (one of ${o.choices.join(", ")})`;
    if (o.type !== "boolean" && o.default !== undefined && o.default !== "") help += ` [${o.default}]`;
    if (o.type !== "boolean" && o.required) help += " (required)";
    rows.push([flag, help]);
  }
  if (rows.length) {
    const width = Math.min(Math.max(...rows.map(([f]) => f.length)) + 2, 28);
    out.push("", spec.positionals?.some((p) => p.help) ? "arguments and options:" : "options:");
    for (const [flag, help] of rows) {
      const lines = help.split("\n");
      const first = flag.length + 2 > width ? `  ${flag}\n  ${" ".repeat(width)}${lines[0]}` : `  ${flag.padEnd(width)}${lines[0]}`;
      out.push(first, ...lines.slice(1).map((l) => `  ${" ".repeat(width)}${l.trimStart()}`));
    }
  }
  if (spec.notes) out.push("", spec.notes);
  return out.join("\n");
}

/** Closest known option within two edits, for "did you mean". */
function suggest(name: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    const d = editDistance(name, k);
    if (d < bestDistance) (best = k), (bestDistance = d);
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

function describeNumber(o: NumberOption): string {
  const orNull = o.nullable ? ' (or "null")' : "";
  if ((o.above === 0 || (o.integer && o.min === 1)) && o.max === undefined)
    return `a positive ${o.integer ? "integer" : "number"}${orNull}`;
  if (o.min === 0 && o.max === undefined) return `${o.integer ? "a non-negative integer" : "a number ≥ 0"}${orNull}`;
  const bounds = [
    o.min !== undefined ? `≥ ${o.min}` : undefined,
    o.above !== undefined ? `> ${o.above}` : undefined,
    o.max !== undefined ? `≤ ${o.max}` : undefined,
  ].filter(Boolean);
  return `${o.integer ? "an integer" : "a number"}${bounds.length ? ` ${bounds.join(" and ")}` : ""}${orNull}`;
}

function toNumber(name: string, o: NumberOption, raw: string, usage: string): number | null {
  if (o.nullable && raw === "null") return null;
  const n = raw.trim() === "" ? Number.NaN : Number(raw);
  const ok =
    Number.isFinite(n) &&
    (!o.integer || Number.isInteger(n)) &&
    (o.min === undefined || n >= o.min) &&
    (o.above === undefined || n > o.above) &&
    (o.max === undefined || n <= o.max);
  if (!ok) throw new UsageError(`--${name} must be ${describeNumber(o)}, got "${raw}"`, usage);
  return n;
}

/**
 * Parses `argv` (without the node and script paths) against `spec`. `--name value` and
 * `--name=value` both work, and a value may start with a dash (`--seed -1`, `--input -`);
 * an option that takes a value followed by another option is missing its value. Throws
 * UsageError for anything the declaration does not allow.
 */
export function parseCommandLine<const S extends CommandSpec>(spec: S, argv: readonly string[]): ParseResult<S> {
  const usage = usageLine(spec);
  const options = optionsOf(spec);
  const byShort = new Map(Object.entries(options).flatMap(([n, o]) => (o.short ? [[o.short, n] as const] : [])));
  // Join every value to its option first, so parseArgs never has to guess whether a
  // dash-led word is a value or an option.
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      args.push(...argv.slice(i));
      break;
    }
    const m = /^--([^=]+)$/.exec(a) ?? /^-([^-])$/.exec(a);
    const name = m ? (a.startsWith("--") ? m[1]! : byShort.get(m[1]!)) : undefined;
    const o = name === undefined ? undefined : options[name];
    if (name !== undefined && o && takesValue(o)) {
      const v = argv[i + 1];
      if (v === undefined || (/^--./.test(v) && !(o.type === "string" && o.dashValue)))
        throw new UsageError(`--${name} needs a value (--${name} ${placeholder(o as StringOption | NumberOption)})`, usage);
      args.push(`--${name}=${v}`);
      i++;
    } else args.push(a);
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: Object.fromEntries(
        Object.entries(options).map(([n, o]) => [
          n,
          { type: o.type === "boolean" ? "boolean" : "string", ...(o.short ? { short: o.short } : {}) },
        ]),
      ) as Record<string, { type: "boolean" | "string"; short?: string }>,
    });
  } catch (err) {
    const code = (err as { code?: string }).code;
    const quoted = /'([^']+)'/.exec((err as Error).message)?.[1] ?? "";
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      const close = quoted.startsWith("--") ? suggest(quoted.slice(2), Object.keys(options)) : undefined;
      throw new UsageError(`unknown option ${quoted}${close ? ` (did you mean --${close}?)` : ""}`, usage);
    }
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") throw new UsageError(`${quoted.split(" ")[0]} takes no value`, usage);
    throw new UsageError((err as Error).message, usage);
  }
  if (parsed.values.help === true) return { help: true, text: formatHelp(spec) };

  const given: Record<string, string | true> = {};
  const values: Record<string, unknown> = {};
  for (const [name, o] of Object.entries(spec.options)) {
    const raw = parsed.values[name] as string | boolean | undefined;
    if (raw !== undefined) given[name] = raw === true ? true : String(raw);
    if (o.type === "boolean") values[name] = raw === true;
    else if (typeof raw !== "string") {
      if (o.required) throw new UsageError(`--${name} is required (--${name} ${placeholder(o)})`, usage);
      values[name] = o.default;
    } else if (o.type === "number") values[name] = toNumber(name, o, raw, usage);
    else {
      if (o.choices && !o.choices.includes(raw))
        throw new UsageError(`--${name} must be one of ${o.choices.join(", ")}, got "${raw}"`, usage);
      values[name] = raw;
    }
  }

  const positionals = parsed.positionals;
  const declared = spec.positionals ?? [];
  const variadic = declared.some((p) => p.variadic);
  if (!variadic && positionals.length > declared.length)
    throw new UsageError(`unexpected argument "${positionals[declared.length]}"`, usage);
  const missing = declared.find((p, k) => p.required && positionals.length <= k);
  if (missing) throw new UsageError(`${missing.name} is required`, usage);
  return { help: false, values: values as ParsedArgs<S>["values"], positionals, given };
}

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

export const processIo: Io = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
};

/** The text printed for a usage error: what is wrong, the usage line, where to find more. */
export function usageErrorText(err: UsageError): string {
  return `error: ${err.message}\n${err.usage}\n(--help lists every option)\n`;
}

/**
 * For commands shaped `run(argv): Promise<number>`: parses, prints --help (exit code 0) or a
 * usage error (exit code 2), else runs `body` with the parsed arguments. A UsageError that
 * `body` throws (a check the declaration cannot express) is printed the same way.
 */
export async function runCommand<const S extends CommandSpec>(
  spec: S,
  argv: readonly string[],
  body: (args: ParsedArgs<S>) => Promise<number>,
  io: Io = processIo,
): Promise<number> {
  try {
    const parsed = parseCommandLine(spec, argv);
    if (!parsed.help) return await body(parsed);
    io.out(`${parsed.text}\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(usageErrorText(err));
    return 2;
  }
}

/** For scripts with a top-level main: the parsed arguments, or print help / the error and exit (0 / 2). */
export function parseOrExit<const S extends CommandSpec>(spec: S, argv: readonly string[] = process.argv.slice(2)): ParsedArgs<S> {
  try {
    const parsed = parseCommandLine(spec, argv);
    if (!parsed.help) return parsed;
    process.stdout.write(`${parsed.text}\n`);
    process.exit(0);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(usageErrorText(err));
    process.exit(2);
  }
}

/** Help for a command made of subcommands (`npm run cli`, `api-keys`): one line per subcommand. */
export function formatSubcommands(command: string, subcommands: Readonly<Record<string, { summary: string }>>, notes?: string): string {
  const width = Math.max(...Object.keys(subcommands).map((n) => n.length)) + 2;
  const lines = Object.entries(subcommands).map(([n, c]) => `  ${n.padEnd(width)}${c.summary}`);
  return `usage: ${command} <command> [options]\n\ncommands:\n${lines.join("\n")}\n\n${notes ?? `${command} <command> --help shows a command's options`}`;
}
