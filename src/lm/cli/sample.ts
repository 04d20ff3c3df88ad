// `npm run cli -- sample --checkpoint DIR --prompt TEXT [...]`: DIR is the house model, a GPT-2 checkpoint or a HF Llama-family directory (llama, mistral, qwen2, qwen3; the prompt goes through its chat template).
// Flags: [--n 2 --temperature 1 --top-k K --top-p P --max-new-tokens 64 --seed 0 --stop S --json]
import { initBackend } from "../backend.ts";
import { HOUSE_MODEL_DIR, loadCheckpoint } from "../checkpoint.ts";
import { sample } from "../sample.ts";
import { encodePrompt } from "../tokenizer.ts";
import { numberFlag, parseFlags } from "./args.ts";

const USAGE =
  "usage: npm run cli -- sample --checkpoint DIR --prompt TEXT [--n 2] [--temperature 1] [--top-k K] [--top-p P] [--max-new-tokens 64] [--seed 0] [--stop STR] [--json]";

export async function run(argv: string[]): Promise<number> {
  const f = parseFlags(
    argv,
    { values: ["checkpoint", "prompt", "n", "temperature", "top-k", "top-p", "max-new-tokens", "seed", "stop"], switches: ["json"] },
    USAGE,
  );
  const prompt = f.get("prompt");
  if (typeof prompt !== "string") throw new Error(`--prompt is required\n${USAGE}`);
  await initBackend();
  const dir = (f.get("checkpoint") as string | undefined) ?? HOUSE_MODEL_DIR;
  const { model, tokenizer } = await loadCheckpoint(dir);
  const topK = f.has("top-k") ? numberFlag(f, "top-k", 0) : undefined;
  const topP = f.has("top-p") ? numberFlag(f, "top-p", 1) : undefined;
  const promptIds = encodePrompt(tokenizer, prompt);
  const t0 = performance.now();
  const res = await sample(model, tokenizer, {
    promptIds,
    n: numberFlag(f, "n", 2),
    temperature: numberFlag(f, "temperature", 1),
    topK,
    topP,
    maxNewTokens: numberFlag(f, "max-new-tokens", 64),
    seed: numberFlag(f, "seed", 0),
    stopStrings: typeof f.get("stop") === "string" ? [f.get("stop") as string] : undefined,
  });
  const ms = performance.now() - t0;
  res.forEach((r, i) => {
    if (f.get("json"))
      console.log(JSON.stringify({ index: i, text: r.text, ids: r.ids, logprob: r.logprob, finish_reason: r.finishReason }));
    else
      console.log(`--- completion ${i} (logprob ${r.logprob.toFixed(3)}, ${r.ids.length} tokens, ${r.finishReason})\n${prompt}${r.text}`);
  });
  const tokens = res.reduce((a, r) => a + r.ids.length, 0);
  console.error(JSON.stringify({ tokens, ms: Math.round(ms), tokens_per_s: Math.round(tokens / (ms / 1000)) }));
  model.dispose();
  return 0;
}
