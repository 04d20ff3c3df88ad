// Per-token log-probs in OpenAI's two shapes. The values are the model's temperature-1 log-probs
// (before temperature, top-p and stop rules), the scale the arena stores and DPO scores on; the
// alternatives are the most likely tokens at each step. Each produced token is listed, including
// an EOS and the tokens that completed a stop string (the ones `usage.completion_tokens` counts).
import type { TokenLogprob } from "../../sampler/protocol.ts";
import type { ApiChoice } from "./generate.ts";

/** Chat Completions: `{ content: [{ token, logprob, bytes, top_logprobs: [...] }], refusal: null }`. */
export function chatLogprobs(c: ApiChoice) {
  if (!c.tokenLogprobs) return null;
  return {
    content: c.tokenLogprobs.map((t) => ({
      token: t.token,
      logprob: t.logprob,
      bytes: t.bytes,
      top_logprobs: t.top.map((a) => ({ token: a.token, logprob: a.logprob, bytes: a.bytes })),
    })),
    refusal: null,
  };
}

/**
 * Legacy Completions: `{ tokens, token_logprobs, top_logprobs: [{token: logprob}], text_offset }`,
 * offsets in characters from the start of the prompt, as OpenAI counts them.
 */
export function completionLogprobs(c: ApiChoice, promptText: string) {
  if (!c.tokenLogprobs) return null;
  const offsets: number[] = [];
  let at = promptText.length;
  for (const t of c.tokenLogprobs) {
    offsets.push(at);
    at += t.token.length;
  }
  return {
    tokens: c.tokenLogprobs.map((t) => t.token),
    token_logprobs: c.tokenLogprobs.map((t) => t.logprob),
    top_logprobs: c.tokenLogprobs.map((t: TokenLogprob) => Object.fromEntries(t.top.map((a) => [a.token, a.logprob]))),
    text_offset: offsets,
  };
}
