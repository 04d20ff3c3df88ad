// `npm run cli -- sample --prompt TEXT [--checkpoint DIR] [...]` (`--help` explains each option):
// n completions of one prompt from a checkpoint. DIR is the house model (the default), a GPT-2
// checkpoint or a HF Llama-family directory (llama, mistral, qwen2, qwen3; the prompt goes
// through its chat template).
import { type CommandSpec, type Io, processIo, runCommand } from "../../cli/args.ts";
import { initBackend } from "../backend.ts";
import { HOUSE_MODEL_DIR, loadCheckpoint } from "../checkpoint.ts";
import { sample } from "../sample.ts";
import { encodePrompt } from "../tokenizer.ts";

const SPEC = {
  command: "npm run cli -- sample",
  description: "Samples completions of one prompt with a KV cache and prints them (tokens per second go to stderr).",
  options: {
    prompt: { type: "string", value: "TEXT", required: true, help: "the prompt; a chat model's goes through its chat template" },
    checkpoint: {
      type: "string",
      value: "DIR",
      help: "a checkpoint directory: GPT-2 (config.json + safetensors) or Hugging Face llama, mistral, qwen2, qwen3\n[the house model, models/house]",
    },
    n: { type: "number", integer: true, min: 1, default: 2, help: "completions to sample" },
    temperature: { type: "number", min: 0, default: 1, help: "sampling temperature (0: greedy)" },
    "top-k": { type: "number", integer: true, min: 0, value: "K", help: "keep only the K most likely tokens (0: all)" },
    "top-p": { type: "number", above: 0, max: 1, value: "P", help: "keep the most likely tokens whose probabilities sum to P" },
    "max-new-tokens": { type: "number", integer: true, min: 0, default: 64, help: "tokens to generate at most" },
    seed: { type: "number", integer: true, default: 0, help: "random seed (the same seed gives the same completions)" },
    stop: { type: "string", value: "STR", help: "end a completion where it produces STR (STR is cut off)" },
    json: { type: "boolean", help: "one JSON line per completion: index, text, ids, logprob, finish_reason" },
  },
} as const satisfies CommandSpec;

export async function run(argv: string[], io: Io = processIo): Promise<number> {
  return runCommand(
    SPEC,
    argv,
    async ({ values: v }) => {
      await initBackend();
      const { model, tokenizer } = await loadCheckpoint(v.checkpoint ?? HOUSE_MODEL_DIR);
      const promptIds = encodePrompt(tokenizer, v.prompt);
      const t0 = performance.now();
      const res = await sample(model, tokenizer, {
        promptIds,
        n: v.n,
        temperature: v.temperature,
        topK: v["top-k"],
        topP: v["top-p"],
        maxNewTokens: v["max-new-tokens"],
        seed: v.seed,
        stopStrings: v.stop === undefined ? undefined : [v.stop],
      });
      const ms = performance.now() - t0;
      res.forEach((r, i) => {
        if (v.json)
          io.out(`${JSON.stringify({ index: i, text: r.text, ids: r.ids, logprob: r.logprob, finish_reason: r.finishReason })}\n`);
        else
          io.out(
            `--- completion ${i} (logprob ${r.logprob.toFixed(3)}, ${r.ids.length} tokens, ${r.finishReason})\n${v.prompt}${r.text}\n`,
          );
      });
      const tokens = res.reduce((a, r) => a + r.ids.length, 0);
      io.err(`${JSON.stringify({ tokens, ms: Math.round(ms), tokens_per_s: Math.round(tokens / (ms / 1000)) })}\n`);
      model.dispose();
      return 0;
    },
    io,
  );
}
