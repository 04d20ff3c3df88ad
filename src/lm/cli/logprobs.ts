// `npm run cli -- logprobs --checkpoint DIR --input pairs.jsonl [--tokens] [--batch-size 16]`, DIR any checkpoint loadCheckpoint reads (GPT-2 or HF Llama-family).
// One JSON line out per input line {"prompt","chosen","rejected"}: the summed completion
// log-probs (prompt masked) under the checkpoint, optionally with the exact ids scored.
import { readFile } from "node:fs/promises";
import { initBackend } from "../backend.ts";
import { HOUSE_MODEL_DIR, loadCheckpoint } from "../checkpoint.ts";
import { scoreCompletions } from "../forward.ts";
import { encodePrompt } from "../tokenizer.ts";
import { numberFlag, parseFlags } from "./args.ts";

const USAGE = "usage: npm run cli -- logprobs --checkpoint DIR --input pairs.jsonl [--tokens] [--batch-size 16]";

export async function run(argv: string[]): Promise<number> {
  const f = parseFlags(argv, { values: ["checkpoint", "input", "batch-size"], switches: ["tokens"] }, USAGE);
  const input = f.get("input");
  if (typeof input !== "string") throw new Error(`--input is required\n${USAGE}`);
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
  const { model, tokenizer } = await loadCheckpoint((f.get("checkpoint") as string | undefined) ?? HOUSE_MODEL_DIR);
  const items = rows.flatMap((r) => {
    const promptIds = encodePrompt(tokenizer, r.prompt);
    return [
      { promptIds, completionIds: tokenizer.encode(r.chosen) },
      { promptIds, completionIds: tokenizer.encode(r.rejected) },
    ];
  });
  const { sum } = scoreCompletions(model, items, { batchSize: numberFlag(f, "batch-size", 16) });
  rows.forEach((_, i) => {
    const out: Record<string, unknown> = { chosen: sum[2 * i], rejected: sum[2 * i + 1] };
    if (f.get("tokens")) {
      out.prompt_ids = items[2 * i].promptIds;
      out.chosen_ids = items[2 * i].completionIds;
      out.rejected_ids = items[2 * i + 1].completionIds;
    }
    console.log(JSON.stringify(out));
  });
  model.dispose();
  return 0;
}
