import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Io } from "../../cli/args.ts";
import { initBackend } from "../backend.ts";
import { saveCheckpoint } from "../checkpoint.ts";
import { scoreCompletions } from "../forward.ts";
import { tinyModel } from "../testing.ts";
import { byteTokenizer, encodePrompt } from "../tokenizer.ts";
import { run as logprobs } from "./logprobs.ts";
import { run as sampleCmd } from "./sample.ts";

let dir: string;
const CFG = { vocabSize: 260, nPositions: 64, nEmbd: 16, nLayer: 1, nHead: 2, layerNormEpsilon: 1e-5 };

beforeAll(async () => {
  await initBackend();
  dir = await mkdtemp(path.join(tmpdir(), "lm-cli-"));
  const m = tinyModel(3, CFG, 0.1);
  await saveCheckpoint(m, byteTokenizer(), path.join(dir, "ckpt"));
  m.dispose();
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Runs a command with its output captured line by line (stdout and stderr apart). */
async function capture(fn: (io: Io) => Promise<number>): Promise<{ code: number; lines: string[]; err: string }> {
  let out = "";
  let err = "";
  const code = await fn({ out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, lines: out.split("\n").filter((l) => l.length > 0), err };
}

describe("lm CLI", () => {
  it("logprobs prints one line per pair with the summed log-probs and the exact ids scored", async () => {
    const input = path.join(dir, "pairs.jsonl");
    await writeFile(input, '{"prompt":"Hi","chosen":" there","rejected":" zz"}\n\n{"prompt":"A","chosen":"b","rejected":"c"}\n');
    const { code, lines } = await capture((io) => logprobs(["--checkpoint", path.join(dir, "ckpt"), "--input", input, "--tokens"], io));
    expect(code).toBe(0);
    expect(lines).toHaveLength(2);
    const first = JSON.parse(lines[0]);
    const tok = byteTokenizer();
    expect(first.prompt_ids).toEqual(encodePrompt(tok, "Hi"));
    expect(first.chosen_ids).toEqual(tok.encode(" there"));
    expect(first.rejected_ids).toEqual(tok.encode(" zz"));
    const { loadCheckpoint } = await import("../checkpoint.ts");
    const { model } = await loadCheckpoint(path.join(dir, "ckpt"));
    const ref = scoreCompletions(model, [{ promptIds: first.prompt_ids, completionIds: first.chosen_ids }]);
    expect(first.chosen).toBeCloseTo(ref.sum[0], 5);
    model.dispose();
  });

  it("logprobs names the bad line of malformed input", async () => {
    const input = path.join(dir, "bad.jsonl");
    await writeFile(input, '{"prompt":"Hi","chosen":" there","rejected":" zz"}\n{"prompt":"x","chosen":3}\n');
    await expect(logprobs(["--checkpoint", path.join(dir, "ckpt"), "--input", input])).rejects.toThrow(
      /bad\.jsonl:2: "chosen" must be a string/,
    );
  });

  it("sample prints n completions as JSON lines, reproducibly", async () => {
    const args = ["--checkpoint", path.join(dir, "ckpt"), "--prompt", "The", "--n", "2", "--max-new-tokens", "8", "--seed", "4", "--json"];
    const a = await capture((io) => sampleCmd(args, io));
    const b = await capture((io) => sampleCmd(args, io));
    expect(a.code).toBe(0);
    expect(a.lines).toHaveLength(2);
    expect(a.lines).toEqual(b.lines);
    expect(JSON.parse(a.lines[0])).toMatchObject({ index: 0, finish_reason: expect.any(String) });
  });

  it("logprobs and sample take a Hugging Face Llama-family directory directly (chat template rendered, ids kept)", async () => {
    const { tinyHFConfig, writeTinyHF } = await import("../llama/fixtures.ts");
    const { loadCheckpoint } = await import("../checkpoint.ts");
    const hf = path.join(dir, "qwen3");
    await writeTinyHF(hf, tinyHFConfig("qwen3"), { seed: 2 });
    const input = path.join(dir, "hf-pairs.jsonl");
    await writeFile(input, '{"prompt":"Hi","chosen":" there","rejected":" zz"}\n');
    const { code, lines } = await capture((io) => logprobs(["--checkpoint", hf, "--input", input, "--tokens"], io));
    expect(code).toBe(0);
    const row = JSON.parse(lines[0]);
    const { model, tokenizer } = await loadCheckpoint(hf);
    expect(tokenizer.decode(row.prompt_ids)).toBe("user\nHi\nassistant\n"); // the template, specials dropped when decoding
    expect(row.prompt_ids).toEqual(encodePrompt(tokenizer, "Hi"));
    expect(row.chosen_ids).toEqual(tokenizer.encode(" there"));
    expect(row.rejected_ids).toEqual(tokenizer.encode(" zz"));
    expect(row.chosen).toBeCloseTo(scoreCompletions(model, [{ promptIds: row.prompt_ids, completionIds: row.chosen_ids }]).sum[0], 5);
    model.dispose();
    const out = await capture((io) =>
      sampleCmd(["--checkpoint", hf, "--prompt", "Hi", "--n", "2", "--max-new-tokens", "5", "--seed", "1", "--json"], io),
    );
    expect(out.code).toBe(0);
    expect(out.lines).toHaveLength(2);
    expect(JSON.parse(out.lines[1]).ids.length).toBeGreaterThan(0);
  });
});

describe("lm CLI arguments", () => {
  // Usage errors come back as exit code 2 with the message and the usage line on stderr, before
  // any model is loaded (the checkpoint named here does not exist).
  const missing = "/nonexistent/checkpoint";

  it("sample: a missing --prompt, a bad number and an unknown flag each say what is wrong", async () => {
    const cases: [string[], string][] = [
      [["--checkpoint", missing], "error: --prompt is required (--prompt TEXT)"],
      [["--prompt", "Hi", "--n", "0"], 'error: --n must be a positive integer, got "0"'],
      [["--prompt", "Hi", "--top-p", "1.5"], 'error: --top-p must be a number > 0 and ≤ 1, got "1.5"'],
      [["--prompt", "Hi", "--temperature", "hot"], 'error: --temperature must be a number ≥ 0, got "hot"'],
      [["--prompt", "Hi", "--max-new-token", "8"], "error: unknown option --max-new-token (did you mean --max-new-tokens?)"],
      [["--prompt", "--json"], "error: --prompt needs a value (--prompt TEXT)"],
      [["--prompt", "Hi", "extra"], 'error: unexpected argument "extra"'],
    ];
    for (const [argv, message] of cases) {
      const r = await capture((io) => sampleCmd(["--checkpoint", missing, ...argv], io));
      expect(r.code, argv.join(" ")).toBe(2);
      expect(r.lines).toEqual([]);
      expect(r.err.split("\n")[0]).toBe(message);
      expect(r.err).toContain("usage: npm run cli -- sample --prompt TEXT [options]");
    }
  });

  it("logprobs: a missing --input and a bad --batch-size are usage errors", async () => {
    const noInput = await capture((io) => logprobs(["--checkpoint", missing], io));
    expect(noInput.code).toBe(2);
    expect(noInput.err).toMatch(/^error: --input is required \(--input FILE\)\nusage: npm run cli -- logprobs --input FILE \[options\]/);
    const badBatch = await capture((io) => logprobs(["--input", "x.jsonl", "--batch-size", "-2"], io));
    expect(badBatch.code).toBe(2);
    expect(badBatch.err.split("\n")[0]).toBe('error: --batch-size must be a positive integer, got "-2"');
  });

  it("--help lists every flag and exits 0 without loading a model", async () => {
    const s = await capture((io) => sampleCmd(["--help"], io));
    expect(s.code).toBe(0);
    for (const flag of [
      "--prompt",
      "--checkpoint",
      "--n",
      "--temperature",
      "--top-k",
      "--top-p",
      "--max-new-tokens",
      "--seed",
      "--stop",
      "--json",
    ])
      expect(s.lines.join("\n")).toContain(flag);
    const l = await capture((io) => logprobs(["-h"], io));
    expect(l.code).toBe(0);
    for (const flag of ["--input", "--checkpoint", "--tokens", "--batch-size"]) expect(l.lines.join("\n")).toContain(flag);
  });
});
