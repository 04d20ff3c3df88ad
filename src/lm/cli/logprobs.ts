// `npm run cli -- logprobs --input pairs.jsonl [--checkpoint DIR] [--tokens] [--batch-size 16]`
// (`--help` explains each), DIR any checkpoint loadCheckpoint reads (GPT-2 or HF Llama-family).
// One JSON line out per input line {"prompt","chosen","rejected"}: the summed completion
// log-probs (prompt masked) under the checkpoint, optionally with the exact ids scored.
import { readFile } from "node:fs/promises";
import { type CommandSpec, type Io, processIo, runCommand } from "../../cli/args.ts";
import { initBackend } from "../backend.ts";
import { HOUSE_MODEL_DIR, loadCheckpoint } from "../checkpoint.ts";
import { scoreCompletions } from "../forward.ts";
import { encodePrompt } from "../tokenizer.ts";

const SPEC = {
  command: "npm run cli -- logprobs",
  description: "Scores preference pairs: the summed log-probs of each chosen and rejected completion given its prompt.",
  options: {
    input: {
      type: "string",
      value: "FILE",
      required: true,
      help: 'JSON lines {"prompt", "chosen", "rejected"} (strings); one output line per input line',
    },
    checkpoint: {
      type: "string",
      value: "DIR",
      help: "a checkpoint directory: GPT-2 (config.json + safetensors) or Hugging Face llama, mistral, qwen2, qwen3\n[the house model, models/house]",
    },
    tokens: { type: "boolean", help: "also print the ids scored: prompt_ids, chosen_ids, rejected_ids" },
    "batch-size": { type: "number", integer: true, min: 1, default: 16, help: "sequences per forward pass" },
  },
} as const satisfies CommandSpec;

export async function run(argv: string[], io: Io = processIo): Promise<number> {
  return runCommand(SPEC, argv, ({ values }) => logprobs(values, io), io);
}

async function logprobs(args: { input: string; checkpoint?: string; tokens: boolean; "batch-size": number }, io: Io): Promise<number> {
  const { input } = args;
  const lines = (await readFile(input, "utf8"))
    .split("\n")
    .map((l, i) => [l.trim(), i + 1] as const)
    .filter(([l]) => l.length > 0);
  const rows = lines.map(([l, no]) => {
    let o: unknown;
    try {
      o = JSON.parse(l);
    } catch {
      throw new Error(`${input}:${no}: not valid JSON`);
    }
    const r = o as Record<string, unknown>;
    for (const k of ["prompt", "chosen", "rejected"])
      if (typeof r[k] !== "string") throw new Error(`${input}:${no}: "${k}" must be a string`);
    return r as { prompt: string; chosen: string; rejected: string };
  });
  await initBackend();
  const { model, tokenizer } = await loadCheckpoint(args.checkpoint ?? HOUSE_MODEL_DIR);
  const items = rows.flatMap((r) => {
    const promptIds = encodePrompt(tokenizer, r.prompt);
    return [
      { promptIds, completionIds: tokenizer.encode(r.chosen) },
      { promptIds, completionIds: tokenizer.encode(r.rejected) },
    ];
  });
  const { sum } = scoreCompletions(model, items, { batchSize: args["batch-size"] });
  rows.forEach((_, i) => {
    const out: Record<string, unknown> = { chosen: sum[2 * i], rejected: sum[2 * i + 1] };
    if (args.tokens) {
      out.prompt_ids = items[2 * i].promptIds;
      out.chosen_ids = items[2 * i].completionIds;
      out.rejected_ids = items[2 * i + 1].completionIds;
    }
    io.out(`${JSON.stringify(out)}\n`);
  });
  model.dispose();
  return 0;
}
