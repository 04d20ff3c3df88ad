// Minimal flag parsing shared by the lm commands: `--name value` pairs and boolean switches.
export function parseFlags(argv: string[], spec: { values: string[]; switches?: string[] }, usage: string): Map<string, string | true> {
  const out = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) throw new Error(`unexpected argument "${a}"\n${usage}`);
    const name = a.slice(2);
    if (spec.switches?.includes(name)) out.set(name, true);
    else if (spec.values.includes(name)) {
      const v = argv[++i];
      if (v === undefined) throw new Error(`--${name} needs a value\n${usage}`);
      out.set(name, v);
    } else throw new Error(`unknown option --${name}\n${usage}`);
  }
  return out;
}

export function numberFlag(flags: Map<string, string | true>, name: string, dflt: number): number {
  const v = flags.get(name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (typeof v !== "string" || !Number.isFinite(n)) throw new Error(`--${name} must be a number, got "${String(v)}"`);
  return n;
}
