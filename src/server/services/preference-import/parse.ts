// Parses a preference dataset file (JSON lines) into (prompt, chosen, rejected) triples, the
// conventions of the tools the data comes from:
//
// TRL (`--format trl`), one object per line, in any of TRL's preference forms:
//   explicit prompt, standard:        {"prompt": "…", "chosen": "…", "rejected": "…"}
//   explicit prompt, conversational:  {"prompt": [messages], "chosen": [assistant message], "rejected": [assistant message]}
//   implicit prompt, conversational:  {"chosen": [messages], "rejected": [messages]} (the prompt is the shared leading messages)
// Anthropic HH (`--format hh`): {"chosen": "\n\nHuman: …\n\nAssistant: …", "rejected": "…"};
//   the prompt is the longest common prefix of chosen and rejected, ended at its last
//   "\n\nAssistant:" (so answers that begin with the same words keep them, as HH is usually read).
//
// Every line that cannot be used is reported with its number and why; the caller stores nothing
// when any line is rejected.
import { type ChatMessage, plainTextPrompt } from "../inference/messages.ts";

export type PreferenceFormat = "trl" | "hh";
export const PREFERENCE_FORMATS = ["trl", "hh"] as const;

/** Longer fields are refused: no model here has a context anywhere near it. */
export const MAX_FIELD_CHARS = 50_000;

export interface ParsedPreference {
  line: number;
  /** the prompt as text (conversational: its plain-text rendering, what the house model sees) */
  prompt: string;
  /** the conversation before the answer, when the line gave messages */
  promptMessages: ChatMessage[] | null;
  chosen: string;
  rejected: string;
}

export interface RejectedLine {
  line: number;
  reason: string;
  excerpt: string;
}

const ROLES = new Set(["system", "developer", "user", "assistant"]);
const HH_ASSISTANT = "\n\nAssistant:";

class LineError extends Error {}

function text(v: unknown, field: string): string {
  if (v === undefined) throw new LineError(`"${field}" is missing`);
  if (typeof v !== "string") throw new LineError(`"${field}" must be a string, got ${kindOf(v)}`);
  if (v.length > MAX_FIELD_CHARS) throw new LineError(`"${field}" is longer than ${MAX_FIELD_CHARS} characters (${v.length})`);
  if (v.includes("\u0000")) throw new LineError(`"${field}" contains a NUL character`);
  return v;
}

function kindOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

function messages(v: unknown, field: string): ChatMessage[] {
  if (!Array.isArray(v)) throw new LineError(`"${field}" must be a list of messages, got ${kindOf(v)}`);
  return v.map((m, i) => {
    const where = `${field}[${i}]`;
    if (typeof m !== "object" || m === null || Array.isArray(m))
      throw new LineError(`${where} must be a message {"role", "content"}, got ${kindOf(m)}`);
    const { role, content } = m as { role?: unknown; content?: unknown };
    if (typeof role !== "string" || !ROLES.has(role))
      throw new LineError(`${where}.role must be one of system, developer, user, assistant, got ${JSON.stringify(role) ?? "nothing"}`);
    return { role: role as ChatMessage["role"], content: text(content, `${where}.content`) };
  });
}

/** The answer of a conversational side: exactly one assistant message. */
function answer(ms: ChatMessage[], field: string): string {
  if (ms.length !== 1 || ms[0]!.role !== "assistant")
    throw new LineError(
      `"${field}" must end the conversation with exactly one assistant message (got ${ms.length} message(s) after the prompt)`,
    );
  return ms[0]!.content;
}

const sameMessage = (a: ChatMessage, b: ChatMessage) => a.role === b.role && a.content === b.content;

function checkAnswers(chosen: string, rejected: string): void {
  if (chosen.trim() === "") throw new LineError("the chosen answer is empty");
  if (rejected.trim() === "") throw new LineError("the rejected answer is empty");
  if (chosen === rejected) throw new LineError("chosen and rejected are the same answer: the pair says nothing");
}

function conversational(prompt: ChatMessage[], chosen: string, rejected: string, line: number): ParsedPreference {
  if (prompt.length === 0) throw new LineError("the prompt has no messages");
  if (prompt[prompt.length - 1]!.role === "assistant") throw new LineError("the prompt must not end with an assistant message");
  checkAnswers(chosen, rejected);
  return { line, prompt: plainTextPrompt(prompt), promptMessages: prompt, chosen, rejected };
}

function parseTrl(o: Record<string, unknown>, line: number): ParsedPreference {
  if (o.chosen === undefined || o.rejected === undefined) throw new LineError(`a TRL preference line needs "chosen" and "rejected"`);
  if (o.prompt === undefined) {
    if (!Array.isArray(o.chosen))
      throw new LineError(`no "prompt": give "prompt", or use --format hh for texts that begin with the conversation`);
    const c = messages(o.chosen, "chosen");
    const r = messages(o.rejected, "rejected");
    let shared = 0;
    while (shared < c.length && shared < r.length && sameMessage(c[shared]!, r[shared]!)) shared++;
    return conversational(c.slice(0, shared), answer(c.slice(shared), "chosen"), answer(r.slice(shared), "rejected"), line);
  }
  if (typeof o.prompt === "string") {
    const prompt = text(o.prompt, "prompt");
    const chosen = text(o.chosen, "chosen");
    const rejected = text(o.rejected, "rejected");
    if (prompt.trim() === "") throw new LineError("the prompt is empty");
    checkAnswers(chosen, rejected);
    return { line, prompt, promptMessages: null, chosen, rejected };
  }
  const prompt = messages(o.prompt, "prompt");
  return conversational(prompt, answer(messages(o.chosen, "chosen"), "chosen"), answer(messages(o.rejected, "rejected"), "rejected"), line);
}

function commonPrefixLength(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  // never end between the two halves of a surrogate pair
  if (i > 0 && i < a.length && a.charCodeAt(i - 1) >= 0xd800 && a.charCodeAt(i - 1) <= 0xdbff) i--;
  return i;
}

function parseHh(o: Record<string, unknown>, line: number): ParsedPreference {
  const chosenAll = text(o.chosen, "chosen");
  const rejectedAll = text(o.rejected, "rejected");
  if (chosenAll === rejectedAll) throw new LineError("chosen and rejected are the same text: the pair says nothing");
  const common = chosenAll.slice(0, commonPrefixLength(chosenAll, rejectedAll));
  const turn = common.lastIndexOf(HH_ASSISTANT);
  if (turn < 0) throw new LineError(`chosen and rejected share no "\\n\\nAssistant:" turn: not in Anthropic HH form`);
  const cut = turn + HH_ASSISTANT.length;
  const prompt = chosenAll.slice(0, cut);
  const chosen = chosenAll.slice(cut);
  const rejected = rejectedAll.slice(cut);
  if (!prompt.includes("Human:")) throw new LineError(`the shared prompt has no "Human:" turn: not in Anthropic HH form`);
  checkAnswers(chosen, rejected);
  return { line, prompt, promptMessages: null, chosen, rejected };
}

const excerpt = (s: string) => (s.length > 80 ? `${s.slice(0, 77)}...` : s);

/** Every non-blank line parsed, or the reason it cannot be used. */
export function parsePreferences(content: string, format: PreferenceFormat): { pairs: ParsedPreference[]; rejected: RejectedLine[] } {
  const pairs: ParsedPreference[] = [];
  const rejected: RejectedLine[] = [];
  const lines = content.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.replace(/\r$/, "");
    if (raw.trim() === "") continue;
    const line = i + 1;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      rejected.push({ line, reason: "not valid JSON", excerpt: excerpt(raw) });
      continue;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      rejected.push({ line, reason: `expected a JSON object, got ${kindOf(value)}`, excerpt: excerpt(raw) });
      continue;
    }
    try {
      const o = value as Record<string, unknown>;
      pairs.push(format === "trl" ? parseTrl(o, line) : parseHh(o, line));
    } catch (err) {
      if (!(err instanceof LineError)) throw err;
      rejected.push({ line, reason: err.message, excerpt: excerpt(raw) });
    }
  }
  return { pairs, rejected };
}
