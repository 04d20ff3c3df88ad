// Every product setting and round-record field the sim reads or writes, in one place. The
// loop's settings schema lives in src/dpo/config.ts; when it renames a field, adapt the name
// here and nowhere else (the sim's own knob `learningRate` maps to the setting `dpo.lr`).
// Readers of round records are tolerant: a field a given product version does not have yet is
// null, and the report shows "—".

/** Loop settings the sim writes (rounds.updateSettings), by group. */
export const LOOP = {
  schedule: { autoTrain: "autoTrain", minNewPairs: "minNewPairs", checkIntervalSeconds: "checkIntervalSeconds" },
  dpo: { beta: "beta", learningRate: "lr", epochs: "epochs" },
  gates: { rootKlBudget: "rootKlBudget" },
} as const;

/** Arena settings the sim writes or reads (arena.updateSettings / arena.settings). */
export const ARENA = {
  sampling: { temperature: "temperature", topP: "topP", topK: "topK", maxNewTokens: "maxNewTokens" },
  arena: { onPolicyShare: "onPolicyShare" },
} as const;

export interface LoopKnobs {
  autoTrain?: boolean;
  votesPerRound?: number;
  checkIntervalSeconds?: number;
  beta?: number;
  learningRate?: number;
  epochs?: number;
}

type Patch = Record<string, Record<string, unknown>>;

/** A rounds.updateSettings patch from the sim's own knobs plus raw `--set` groups (raw wins). */
export function loopPatch(knobs: LoopKnobs, raw: Patch = {}): Patch {
  const schedule: Record<string, unknown> = {};
  const dpo: Record<string, unknown> = {};
  if (knobs.autoTrain !== undefined) schedule[LOOP.schedule.autoTrain] = knobs.autoTrain;
  if (knobs.votesPerRound !== undefined) schedule[LOOP.schedule.minNewPairs] = knobs.votesPerRound;
  if (knobs.checkIntervalSeconds !== undefined) schedule[LOOP.schedule.checkIntervalSeconds] = knobs.checkIntervalSeconds;
  if (knobs.beta !== undefined) dpo[LOOP.dpo.beta] = knobs.beta;
  if (knobs.learningRate !== undefined) dpo[LOOP.dpo.learningRate] = knobs.learningRate;
  if (knobs.epochs !== undefined) dpo[LOOP.dpo.epochs] = knobs.epochs;
  const patch: Patch = {};
  for (const [group, own] of [
    ["schedule", schedule],
    ["dpo", dpo],
  ] as const) {
    const merged = { ...own, ...raw[group] };
    if (Object.keys(merged).length) patch[group] = merged;
  }
  for (const [group, values] of Object.entries(raw))
    if (group !== "schedule" && group !== "dpo" && group !== "sampling") patch[group] = values;
  return patch;
}

const num = (x: unknown): number | null => (typeof x === "number" && Number.isFinite(x) ? x : null);
const obj = (x: unknown): Record<string, unknown> | null =>
  x && typeof x === "object" && !Array.isArray(x) ? (x as Record<string, unknown>) : null;

/** The loop's root KL budget (nats per completion) from the settings the product returned, or null. */
export function rootKlBudgetOf(settings: unknown): number | null {
  return num(obj(obj(settings)?.gates)?.[LOOP.gates.rootKlBudget]);
}

/** A round's β: the settings snapshot stores it under config.dpo (older records: config.beta). */
export function roundBeta(config: unknown, summary: unknown): number | null {
  const c = obj(config);
  return num(obj(c?.dpo)?.[LOOP.dpo.beta]) ?? num(c?.beta) ?? num(obj(obj(summary)?.config)?.beta);
}

export interface PairsUsed {
  train: number | null;
  heldout: number | null;
  /** new decisive votes */
  new: number | null;
  /** pairs returned from rejected, failed or cancelled rounds */
  returned: number | null;
  /** serving-vs-earlier votes used as off-policy pairs */
  versus: number | null;
}

/**
 * What a round trained and judged on. pairsTrain/pairsHeldout are columns of every round; the
 * split by origin is newer: looked for as columns (pairsNew, pairsReturned, pairsVersus) or under
 * summary.pairs / summary.data ({ new, returned, versus, heldout }).
 */
export function pairsUsed(row: Record<string, unknown>): PairsUsed {
  const s = obj(row.summary);
  const nested = obj(s?.pairs) ?? obj(s?.data) ?? obj(row.pairs) ?? {};
  const pick = (column: string, key: string) => num(row[column]) ?? num(nested[key]);
  return {
    train: pick("pairsTrain", "train"),
    heldout: pick("pairsHeldout", "heldout"),
    new: pick("pairsNew", "new"),
    returned: pick("pairsReturned", "returned"),
    versus: pick("pairsVersus", "versus"),
  };
}
