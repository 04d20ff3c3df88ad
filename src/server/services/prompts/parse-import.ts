// Parses an uploaded prompt file: JSONL (`{"prompt": "...", "overlapTarget"?: n}` per line),
// CSV (a header with a `prompt` column, optional `overlap_target`), or plain text (one prompt
// per line). Every line that is not used is reported with its number and the reason.

export type ImportFormat = "jsonl" | "csv" | "text";
export const MAX_PROMPT_CHARS = 2000;

export interface ParsedPrompt {
  line: number;
  text: string;
  overlapTarget?: number;
}
export interface RejectedLine {
  line: number;
  reason: string;
  excerpt: string;
}
export interface ParseResult {
  format: ImportFormat;
  prompts: ParsedPrompt[];
  rejected: RejectedLine[];
}

export function detectFormat(filename: string | undefined, content: string): ImportFormat {
  const ext = filename?.toLowerCase().match(/\.([a-z]+)$/)?.[1];
  if (ext === "jsonl" || ext === "ndjson") return "jsonl";
  if (ext === "csv") return "csv";
  if (ext === "txt") return "text";
  const first =
    content
      .split(/\r?\n/)
      .find((l) => l.trim() !== "")
      ?.trim() ?? "";
  if (first.startsWith("{")) return "jsonl";
  if (/^"?prompt"?\s*(,|$)/i.test(first)) return "csv";
  return "text";
}

/**
 * Lone UTF-16 surrogates become U+FFFD when the text is stored as UTF-8, so two lines that differ
 * only in them are the same prompt in the database: replace them first, so duplicate detection
 * compares what will be stored.
 */
export function wellFormed(text: string): string {
  return text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD");
}

const excerpt = (s: string) => (s.length > 80 ? `${s.slice(0, 77)}...` : s);

function checkText(text: string): string | null {
  if (text.trim() === "") return "empty prompt";
  if (text.includes("\u0000")) return "contains a NUL character";
  if (text.length > MAX_PROMPT_CHARS) return `longer than ${MAX_PROMPT_CHARS} characters (${text.length})`;
  return null;
}

function checkOverlap(v: unknown): { ok: true; value?: number } | { ok: false; reason: string } {
  if (v === undefined || v === null || v === "") return { ok: true };
  const n = typeof v === "number" ? v : Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 100)
    return { ok: false, reason: `overlap target must be a whole number from 1 to 100, got ${JSON.stringify(v)}` };
  return { ok: true, value: n };
}

/** CSV records (RFC 4180 quoting, quoted fields may span lines) with the line each starts on. */
export function parseCsv(content: string): { line: number; fields: string[]; error?: string }[] {
  const records: { line: number; fields: string[]; error?: string }[] = [];
  let i = 0;
  let line = 1;
  while (i < content.length) {
    const start = line;
    const fields: string[] = [];
    let field = "";
    let quoted = false;
    let error: string | undefined;
    for (;;) {
      const ch = content[i];
      if (quoted) {
        if (ch === undefined) {
          error = "unterminated quoted field";
          break;
        }
        if (ch === '"' && content[i + 1] === '"') {
          field += '"';
          i += 2;
        } else if (ch === '"') {
          quoted = false;
          i += 1;
        } else {
          if (ch === "\n") line += 1;
          field += ch;
          i += 1;
        }
        continue;
      }
      if (ch === undefined || ch === "\n" || (ch === "\r" && content[i + 1] === "\n")) {
        fields.push(field);
        i += ch === undefined ? 0 : ch === "\r" ? 2 : 1;
        if (ch !== undefined) line += 1;
        break;
      }
      if (ch === ",") {
        fields.push(field);
        field = "";
        i += 1;
      } else if (ch === '"' && field === "") {
        quoted = true;
        i += 1;
      } else {
        field += ch;
        i += 1;
      }
    }
    records.push({ line: start, fields, error });
    if (error) break;
  }
  return records;
}

export function parseImport(content: string, format: ImportFormat): ParseResult {
  const prompts: ParsedPrompt[] = [];
  const rejected: RejectedLine[] = [];
  const accept = (line: number, raw: string, text: string, overlap?: unknown) => {
    const bad = checkText(text);
    if (bad) return rejected.push({ line, reason: bad, excerpt: excerpt(raw) });
    const o = checkOverlap(overlap);
    if (!o.ok) return rejected.push({ line, reason: o.reason, excerpt: excerpt(raw) });
    prompts.push({ line, text: wellFormed(text.trim()), ...(o.value !== undefined ? { overlapTarget: o.value } : {}) });
  };

  if (format === "csv") {
    const records = parseCsv(content);
    const header = records[0]?.fields.map((h) => h.trim().toLowerCase()) ?? [];
    const col = header.indexOf("prompt");
    const overlapCol = header.findIndex((h) => h === "overlap_target" || h === "overlaptarget");
    if (col < 0) {
      rejected.push({ line: 1, reason: 'the CSV header has no "prompt" column', excerpt: excerpt(records[0]?.fields.join(",") ?? "") });
      return { format, prompts, rejected };
    }
    for (const r of records.slice(1)) {
      const raw = r.fields.join(",");
      if (r.error) rejected.push({ line: r.line, reason: r.error, excerpt: excerpt(raw) });
      else if (r.fields.length === 1 && r.fields[0]!.trim() === "") continue;
      else if (r.fields.length !== header.length)
        rejected.push({ line: r.line, reason: `expected ${header.length} columns, found ${r.fields.length}`, excerpt: excerpt(raw) });
      else accept(r.line, raw, r.fields[col]!, overlapCol >= 0 ? r.fields[overlapCol] : undefined);
    }
    return { format, prompts, rejected };
  }

  content.split(/\r?\n/).forEach((raw, idx) => {
    const line = idx + 1;
    if (raw.trim() === "") return;
    if (format === "text") return accept(line, raw, raw);
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      return rejected.push({ line, reason: "not valid JSON", excerpt: excerpt(raw) });
    }
    if (typeof value !== "object" || value === null || Array.isArray(value))
      return rejected.push({ line, reason: 'expected an object like {"prompt": "..."}', excerpt: excerpt(raw) });
    const obj = value as Record<string, unknown>;
    if (typeof obj.prompt !== "string") return rejected.push({ line, reason: 'missing a string "prompt" field', excerpt: excerpt(raw) });
    accept(line, raw, obj.prompt, obj.overlapTarget ?? obj.overlap_target);
  });
  return { format, prompts, rejected };
}
