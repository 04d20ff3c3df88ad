// Parses a gold-pair file: JSON lines of
//   {"prompt": "...", "completion_a": "...", "completion_b": "...", "expected": "A" | "B" | "TIE", "note"?: "..."}
// Every line that is not used is reported with its number and the reason.
import { MAX_PROMPT_CHARS } from "../prompts/parse-import.ts";

export const MAX_GOLD_COMPLETION_CHARS = 20_000;
export const MAX_GOLD_NOTE_CHARS = 1_000;

export interface ParsedGoldPair {
  line: number;
  promptText: string;
  completionA: string;
  completionB: string;
  expected: "A" | "B" | "TIE";
  note?: string;
}
export interface RejectedGoldLine {
  line: number;
  reason: string;
  excerpt: string;
}

const excerpt = (s: string) => (s.length > 80 ? `${s.slice(0, 77)}...` : s);

function text(value: unknown, field: string, max: number): { ok: true; value: string } | { ok: false; reason: string } {
  if (typeof value !== "string") return { ok: false, reason: `"${field}" must be a string` };
  if (value.trim() === "") return { ok: false, reason: `"${field}" is empty` };
  if (value.includes("\u0000")) return { ok: false, reason: `"${field}" contains a NUL character` };
  if (value.length > max) return { ok: false, reason: `"${field}" is longer than ${max} characters (${value.length})` };
  return { ok: true, value };
}

export function parseGoldJsonl(content: string): { pairs: ParsedGoldPair[]; rejected: RejectedGoldLine[] } {
  const pairs: ParsedGoldPair[] = [];
  const rejected: RejectedGoldLine[] = [];
  content.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === "") return;
    const reject = (reason: string) => rejected.push({ line, reason, excerpt: excerpt(raw.trim()) });
    let obj: unknown;
    try {
      obj = JSON.parse(raw);
    } catch {
      return reject("not valid JSON");
    }
    if (typeof obj !== "object" || obj === null || Array.isArray(obj)) return reject("expected a JSON object");
    const o = obj as Record<string, unknown>;
    const prompt = text(o.prompt, "prompt", MAX_PROMPT_CHARS);
    if (!prompt.ok) return reject(prompt.reason);
    const a = text(o.completion_a, "completion_a", MAX_GOLD_COMPLETION_CHARS);
    if (!a.ok) return reject(a.reason);
    const b = text(o.completion_b, "completion_b", MAX_GOLD_COMPLETION_CHARS);
    if (!b.ok) return reject(b.reason);
    if (a.value === b.value) return reject("completion_a and completion_b are the same text");
    const expected = typeof o.expected === "string" ? o.expected.trim().toUpperCase() : o.expected;
    if (expected !== "A" && expected !== "B" && expected !== "TIE")
      return reject(`"expected" must be "A", "B" or "TIE", got ${JSON.stringify(o.expected)}`);
    let note: string | undefined;
    if (o.note !== undefined && o.note !== null && o.note !== "") {
      const n = text(o.note, "note", MAX_GOLD_NOTE_CHARS);
      if (!n.ok) return reject(n.reason);
      note = n.value;
    }
    pairs.push({ line, promptText: prompt.value, completionA: a.value, completionB: b.value, expected, note });
  });
  return { pairs, rejected };
}
