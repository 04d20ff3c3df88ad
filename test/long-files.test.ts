// The house rule on file length (docs/architecture.md): a source file under src/, workers/ or
// scripts/ stays within 350 lines, or says at its top why it is one unit, in a comment starting
// `// long file:` within its first 15 lines. Split a file by responsibility before reaching for
// the comment. Tests (*.test.ts) are exempt: they grow by cases, not by responsibilities.
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "..");
const ROOTS = ["src", "workers", "scripts"];
const MAX_LINES = 350;
const REASON_WITHIN = 15;
const SOURCE = /\.(ts|tsx|mts|cts|js|jsx|mjs|cjs)$/;
const SKIPPED_DIRS = new Set(["node_modules", "generated"]);

interface LongFile {
  path: string;
  lines: number;
}

/** Files over the limit with no `// long file:` reason near the top. */
function unexplainedLongFiles(files: { path: string; text: string }[], maxLines = MAX_LINES): LongFile[] {
  const out: LongFile[] = [];
  for (const f of files) {
    const lines = f.text.split("\n");
    const count = lines.at(-1) === "" ? lines.length - 1 : lines.length;
    if (count <= maxLines) continue;
    const explained = lines.slice(0, REASON_WITHIN).some((l) => /^\s*\/\/ long file: \S/.test(l));
    if (!explained) out.push({ path: f.path, lines: count });
  }
  return out;
}

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(path.join(ROOT, dir), { withFileTypes: true });
  const nested = await Promise.all(
    entries.map(async (e) => {
      const rel = path.posix.join(dir, e.name);
      if (e.isDirectory()) return SKIPPED_DIRS.has(e.name) ? [] : sourceFiles(rel);
      return SOURCE.test(e.name) && !/\.test\.[cm]?[jt]sx?$/.test(e.name) ? [rel] : [];
    }),
  );
  return nested.flat();
}

describe("long files", () => {
  it("finds a file over the limit unless a `// long file:` comment near its top gives the reason", () => {
    const body = (n: number) => Array.from({ length: n }, (_, i) => `const x${i} = ${i};`).join("\n");
    expect(
      unexplainedLongFiles([
        { path: "at-limit.ts", text: `${body(350)}\n` },
        { path: "over.ts", text: body(351) },
        {
          path: "explained.ts",
          text: `// What it is.\n// long file: one state machine, split it and its transitions scatter.\n${body(400)}`,
        },
        { path: "reason-too-late.ts", text: `${body(20)}\n// long file: too late to count\n${body(400)}` },
        { path: "empty-reason.ts", text: `// long file:\n${body(400)}` },
      ]),
    ).toEqual([
      { path: "over.ts", lines: 351 },
      { path: "reason-too-late.ts", lines: 421 },
      { path: "empty-reason.ts", lines: 401 },
    ]);
  });

  it(`every source file under ${ROOTS.join(", ")} is within ${MAX_LINES} lines or says why at its top`, async () => {
    const paths = (await Promise.all(ROOTS.map(sourceFiles))).flat();
    expect(paths.length).toBeGreaterThan(100); // the walk found the tree
    const files = await Promise.all(paths.map(async (p) => ({ path: p, text: await readFile(path.join(ROOT, p), "utf8") })));
    const offenders = unexplainedLongFiles(files);
    expect(offenders, "split these files, or add a `// long file: <why it is one unit>` comment in their first lines").toEqual([]);
  });
});
