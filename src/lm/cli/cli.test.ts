import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
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

async function capture(fn: () => Promise<number>): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const spy = vi.spyOn(console, "log").mockImplementation((s: unknown) => void lines.push(String(s)));
  const err = vi.spyOn(console, "error").mockImplementation(() => {});
  try {
    return { code: await fn(), lines };
  } finally {
    spy.mockRestore();
    err.mockRestore();
  }
}

describe("lm CLI", () => {
  it("logprobs prints one line per pair with the summed log-probs and the exact ids scored", async () => {
    const input = path.join(dir, "pairs.jsonl");
    await writeFile(input, '{"prompt":"Hi","chosen":" there","rejected":" zz"}\n\n{"prompt":"A","chosen":"b","rejected":"c"}\n');
    const { code, lines } = await capture(() => logprobs(["--checkpoint", path.join(dir, "ckpt"), "--input", input, "--tokens"]));
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
    const a = await capture(() => sampleCmd(args));
    const b = await capture(() => sampleCmd(args));
    expect(a.code).toBe(0);
    expect(a.lines).toHaveLength(2);
    expect(a.lines).toEqual(b.lines);
    expect(JSON.parse(a.lines[0])).toMatchObject({ index: 0, finish_reason: expect.any(String) });
    await expect(sampleCmd(["--checkpoint", path.join(dir, "ckpt")])).rejects.toThrow(/--prompt is required/);
  });

  it("logprobs and sample take a Hugging Face Llama-family directory directly (chat template rendered, ids kept)", async () => {
    const { tinyHFConfig, writeTinyHF } = await import("../llama/fixtures.ts");
    const { loadCheckpoint } = await import("../checkpoint.ts");
    const hf = path.join(dir, "qwen3");
    await writeTinyHF(hf, tinyHFConfig("qwen3"), { seed: 2 });
    const input = path.join(dir, "hf-pairs.jsonl");
    await writeFile(input, '{"prompt":"Hi","chosen":" there","rejected":" zz"}\n');
    const { code, lines } = await capture(() => logprobs(["--checkpoint", hf, "--input", input, "--tokens"]));
    expect(code).toBe(0);
    const row = JSON.parse(lines[0]);
    const { model, tokenizer } = await loadCheckpoint(hf);
    expect(tokenizer.decode(row.prompt_ids)).toBe("user\nHi\nassistant\n"); // the template, specials dropped when decoding
    expect(row.prompt_ids).toEqual(encodePrompt(tokenizer, "Hi"));
    expect(row.chosen_ids).toEqual(tokenizer.encode(" there"));
    expect(row.rejected_ids).toEqual(tokenizer.encode(" zz"));
    expect(row.chosen).toBeCloseTo(scoreCompletions(model, [{ promptIds: row.prompt_ids, completionIds: row.chosen_ids }]).sum[0], 5);
    model.dispose();
    const out = await capture(() =>
      sampleCmd(["--checkpoint", hf, "--prompt", "Hi", "--n", "2", "--max-new-tokens", "5", "--seed", "1", "--json"]),
    );
    expect(out.code).toBe(0);
    expect(out.lines).toHaveLength(2);
    expect(JSON.parse(out.lines[1]).ids.length).toBeGreaterThan(0);
  });
});
