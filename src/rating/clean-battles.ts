// FastChat's clean_battle format (the LMSYS Chatbot Arena data dumps), in and out.
import { type BattleRecord, OUTCOMES, type Outcome } from "./types.ts";

/**
 * Reads a JSON array of battles or JSON lines (one battle per line; blank lines ignored).
 * Required fields: `model_a`, `model_b` (strings), `winner` (model_a | model_b | tie |
 * "tie (bothbad)"); optional `tstamp` (number). Rows with `anony: false` are dropped, as
 * FastChat's leaderboard counts only battles where the models were anonymous. Throws an
 * error naming the line (or array element) of the first malformed row.
 */
export function parseCleanBattles(text: string): BattleRecord[] {
  const start = text.search(/\S/);
  if (start < 0) return [];
  const out: BattleRecord[] = [];
  if (text[start] === "[") {
    let rows: unknown;
    try {
      rows = JSON.parse(text);
    } catch (e) {
      throw new Error(`input starts with "[" but is not a valid JSON array: ${(e as Error).message}`);
    }
    if (!Array.isArray(rows)) throw new Error("input is not a JSON array");
    rows.forEach((row, i) => pushRow(out, row, `array element ${i}`));
    return out;
  }
  let lineNo = 0;
  let pos = 0;
  while (pos <= text.length) {
    let end = text.indexOf("\n", pos);
    if (end < 0) end = text.length;
    lineNo++;
    const line = text.slice(pos, end).trim();
    pos = end + 1;
    if (line === "") continue;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (e) {
      throw new Error(`line ${lineNo}: not valid JSON (${(e as Error).message})`);
    }
    pushRow(out, row, `line ${lineNo}`);
  }
  return out;
}

function pushRow(out: BattleRecord[], row: unknown, where: string): void {
  if (typeof row !== "object" || row === null || Array.isArray(row))
    throw new Error(`${where}: expected a JSON object with model_a, model_b and winner`);
  const r = row as Record<string, unknown>;
  if (r.anony === false) return;
  for (const field of ["model_a", "model_b"] as const) {
    if (typeof r[field] !== "string" || r[field] === "")
      throw new Error(`${where}: "${field}" must be a non-empty string, got ${JSON.stringify(r[field])}`);
  }
  if (!OUTCOMES.includes(r.winner as Outcome)) {
    throw new Error(
      `${where}: "winner" must be one of ${OUTCOMES.map((o) => JSON.stringify(o)).join(", ")}, got ${JSON.stringify(r.winner)}`,
    );
  }
  if (r.tstamp !== undefined && r.tstamp !== null && (typeof r.tstamp !== "number" || !Number.isFinite(r.tstamp))) {
    throw new Error(`${where}: "tstamp" must be a number (seconds since the epoch), got ${JSON.stringify(r.tstamp)}`);
  }
  const battle: BattleRecord = { modelA: r.model_a as string, modelB: r.model_b as string, winner: r.winner as Outcome };
  if (typeof r.tstamp === "number") battle.tstamp = r.tstamp;
  out.push(battle);
}

/** JSON lines in clean_battle format, for exporting the arena's battles. */
export function toCleanBattleLines(battles: readonly BattleRecord[]): string {
  return (
    battles
      .map((b) =>
        JSON.stringify({
          model_a: b.modelA,
          model_b: b.modelB,
          winner: b.winner,
          ...(b.tstamp !== undefined ? { tstamp: b.tstamp } : {}),
          anony: true,
        }),
      )
      .join("\n") + (battles.length ? "\n" : "")
  );
}
