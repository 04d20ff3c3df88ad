// Structured logs: one JSON object per line, so any log shipper can parse them.
// Stacks go only here, never into responses a user sees.
import { getEnv } from "./env.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export function serializeError(err: unknown): unknown {
  if (err instanceof Error) {
    const out: Record<string, unknown> = { name: err.name, message: err.message, stack: err.stack };
    const code = (err as { code?: unknown }).code;
    if (code !== undefined) out.code = code;
    if (err.cause !== undefined) out.cause = serializeError(err.cause);
    return out;
  }
  return err;
}

function minLevel(): LogLevel {
  try {
    return getEnv().LOG_LEVEL;
  } catch {
    // A broken environment must still be loggable (the env error itself goes through here).
    return "info";
  }
}

function safeJson(record: LogFields): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(record, (_key, value: unknown) => {
    if (value instanceof Error) return serializeError(value);
    if (typeof value === "bigint") return value.toString();
    if (value && typeof value === "object") {
      if (seen.has(value)) return "[circular]";
      seen.add(value);
    }
    return value;
  });
}

export type LogSink = (level: LogLevel, line: string) => void;

const defaultSink: LogSink = (level, line) => {
  if (level === "warn" || level === "error") process.stderr.write(`${line}\n`);
  else process.stdout.write(`${line}\n`);
};

export function createLogger(base: LogFields = {}, sink: LogSink = defaultSink): Logger {
  const write = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (RANK[level] < RANK[minLevel()]) return;
    const time = new Date().toISOString();
    // Fields cannot overwrite the envelope: a stray `level` or `msg` field must not lie.
    const record: LogFields = { time, level, msg, ...base, ...fields };
    Object.assign(record, { time, level, msg });
    for (const [k, v] of Object.entries(record)) if (v instanceof Error) record[k] = serializeError(v);
    sink(level, safeJson(record));
  };
  return {
    debug: (msg, fields) => write("debug", msg, fields),
    info: (msg, fields) => write("info", msg, fields),
    warn: (msg, fields) => write("warn", msg, fields),
    error: (msg, fields) => write("error", msg, fields),
    child: (fields) => createLogger({ ...base, ...fields }, sink),
  };
}

export const log: Logger = createLogger();
