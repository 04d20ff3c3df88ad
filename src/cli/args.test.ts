import { describe, expect, it } from "vitest";
import { type CommandSpec, formatHelp, formatSubcommands, parseCommandLine, runCommand, UsageError, usageLine } from "./args.ts";

const SPEC = {
  command: "npm run demo --",
  description: "Does a demo.",
  positionals: [{ name: "DIR", help: "where to work", required: true }],
  options: {
    input: { type: "string", value: "FILE", required: true, help: "battles to read" },
    rounds: { type: "number", integer: true, above: 0, default: 100, help: "bootstrap rounds" },
    seed: { type: "number", integer: true, default: 0, help: "seed" },
    budget: { type: "number", min: 0, nullable: true, default: 12, help: "KL budget\nnull: no budget" },
    web: { type: "string", choices: ["next", "host"], help: "how to serve" },
    json: { type: "boolean", help: "print JSON" },
  },
} as const satisfies CommandSpec;

function parse(...argv: string[]) {
  const r = parseCommandLine(SPEC, argv);
  if (r.help) throw new Error("unexpected help");
  return r;
}

function usageError(...argv: string[]): string {
  try {
    parseCommandLine(SPEC, argv);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error(`no error for ${argv.join(" ")}`);
}

describe("parseCommandLine", () => {
  it("reads values in both forms, converts numbers, applies defaults and keeps positionals", () => {
    const r = parse("work", "--input", "a.jsonl", "--rounds=40", "--json", "--web", "host");
    expect(r.values).toEqual({ input: "a.jsonl", rounds: 40, seed: 0, budget: 12, web: "host", json: true });
    expect(r.positionals).toEqual(["work"]);
    expect(r.given).toEqual({ input: "a.jsonl", rounds: "40", json: true, web: "host" });
  });

  it("takes dash-led values (negative numbers, '-' for stdin) and null where allowed", () => {
    const r = parse("w", "--input", "-", "--seed", "-3", "--budget", "null");
    expect(r.values.input).toBe("-");
    expect(r.values.seed).toBe(-3);
    expect(r.values.budget).toBeNull();
  });

  it("refuses unknown options, naming them and the closest known one", () => {
    expect(usageError("w", "--input", "f", "--frobnicate")).toBe("unknown option --frobnicate");
    expect(usageError("w", "--input", "f", "--round", "3")).toBe("unknown option --round (did you mean --rounds?)");
    expect(usageError("w", "--input", "f", "-x")).toBe("unknown option -x");
  });

  it("says which value is wrong and what it must be", () => {
    expect(usageError("w", "--input", "f", "--rounds", "zero")).toBe('--rounds must be a positive integer, got "zero"');
    expect(usageError("w", "--input", "f", "--rounds", "1.5")).toBe('--rounds must be a positive integer, got "1.5"');
    expect(usageError("w", "--input", "f", "--budget", "-1")).toBe('--budget must be a number ≥ 0 (or "null"), got "-1"');
    expect(usageError("w", "--input", "f", "--budget", "x")).toBe('--budget must be a number ≥ 0 (or "null"), got "x"');
    expect(usageError("w", "--input", "f", "--seed", "")).toBe('--seed must be an integer, got ""');
    expect(usageError("w", "--input", "f", "--web", "apache")).toBe('--web must be one of next, host, got "apache"');
    expect(usageError("w", "--input", "f", "--rounds", "null")).toMatch(/--rounds must be a positive integer/);
  });

  it("refuses a missing value, a missing required option or positional, extra positionals and a value for a switch", () => {
    expect(usageError("w", "--input")).toBe("--input needs a value (--input FILE)");
    expect(usageError("w", "--input", "--json")).toBe("--input needs a value (--input FILE)");
    expect(usageError("w", "--json")).toBe("--input is required (--input FILE)");
    expect(usageError("--input", "f")).toBe("DIR is required");
    expect(usageError("w", "v", "--input", "f")).toBe('unexpected argument "v"');
    expect(usageError("w", "--input", "f", "--json=yes")).toBe("--json takes no value");
  });

  it("answers --help and -h with help generated from the declaration, before checking required options", () => {
    for (const flag of ["--help", "-h"]) {
      const r = parseCommandLine(SPEC, [flag]);
      expect(r.help).toBe(true);
      if (!r.help) continue;
      expect(r.text).toBe(formatHelp(SPEC));
    }
    const text = formatHelp(SPEC);
    expect(text.split("\n")[0]).toBe("usage: npm run demo -- DIR --input FILE [options]");
    expect(text).toContain("Does a demo.");
    expect(text).toMatch(/--rounds N +bootstrap rounds \[100\]/);
    expect(text).toMatch(/--web VALUE +how to serve \(one of next, host\)/);
    expect(text).toMatch(/KL budget\n +null: no budget \[12\]/);
    expect(text).toMatch(/-h, --help +show this help/);
    // every declared option appears in the help
    for (const name of Object.keys(SPEC.options)) expect(text).toContain(`--${name}`);
  });

  it("takes a value that starts with -- only where the declaration allows it", () => {
    const spec = { command: "x", options: { "node-args": { type: "string", dashValue: true, help: "passed on" } } } as const;
    const r = parseCommandLine(spec, ["--node-args", "--cpu-prof"]);
    expect(r.help ? undefined : r.values["node-args"]).toBe("--cpu-prof");
  });

  it("leaves everything after -- as positionals", () => {
    const spec = { command: "x", positionals: [{ name: "ARGS", variadic: true }], options: { n: { type: "number", help: "n" } } } as const;
    const r = parseCommandLine(spec, ["a", "--n", "2", "--", "--n", "b"]);
    expect(r.help).toBe(false);
    if (!r.help) expect([r.values.n, r.positionals]).toEqual([2, ["a", "--n", "b"]]);
  });
});

describe("runCommand", () => {
  const io = () => {
    const o = { out: "", err: "" };
    return { o, io: { out: (t: string) => void (o.out += t), err: (t: string) => void (o.err += t) } };
  };

  it("prints a usage error with the usage line and returns 2 without running the body", async () => {
    const { o, io: sink } = io();
    let ran = false;
    const code = await runCommand(SPEC, ["w", "--nope"], async () => ((ran = true), 0), sink);
    expect([code, ran, o.out]).toEqual([2, false, ""]);
    expect(o.err).toBe(`error: unknown option --nope\n${usageLine(SPEC)}\n(--help lists every option)\n`);
  });

  it("prints help to stdout and returns 0; otherwise runs the body with typed values", async () => {
    const { o, io: sink } = io();
    expect(await runCommand(SPEC, ["--help"], async () => 9, sink)).toBe(0);
    expect(o.out).toBe(`${formatHelp(SPEC)}\n`);
    expect(await runCommand(SPEC, ["w", "--input", "f", "--rounds", "7"], async (a) => a.values.rounds, sink)).toBe(7);
  });

  it("lists subcommands with their summaries", () => {
    const text = formatSubcommands("npm run cli --", { sample: { summary: "sample text" }, "api-keys": { summary: "keys" } });
    expect(text).toContain("usage: npm run cli -- <command> [options]");
    expect(text).toMatch(/ {2}sample {4}sample text\n {2}api-keys {2}keys/);
  });
});
