// A round as the report shows it, read from the product's rounds.list / rounds.get records.
// Read tolerantly: products differ in which summary fields and gates they record.
import type { ProductClient } from "../client.ts";
import type { ReportGate, ReportRound } from "../report.ts";
import { pairsUsed, roundBeta } from "./settings-names.ts";

export interface RoundRow {
  id: string;
  number: number;
  status: string;
  pairsTrain: number | null;
  pairsHeldout: number | null;
  config: unknown;
  summary: {
    seconds?: number;
    first?: Record<string, number>;
    last?: Record<string, number>;
    heldout?: { n?: number; accuracy?: number; loss?: number } | null;
    heldoutBefore?: { n?: number; accuracy?: number; loss?: number } | null;
    kl?: { kl?: number; stderr?: number } | null;
  } | null;
  gates?: unknown;
  error: string | null;
  baseVersion: { name: string } | null;
  resultVersion: { name: string; status: string } | null;
}

export const FINISHED = new Set(["SUCCEEDED", "REJECTED", "FAILED", "CANCELLED"]);
const num = (x: unknown): number | null => (typeof x === "number" && Number.isFinite(x) ? x : null);

/** Every gate the round recorded: name, verdict, value, threshold, and any other numbers it gives (p-value, bound, …). */
export function roundGates(gates: unknown): ReportGate[] {
  if (!Array.isArray(gates)) return [];
  return gates
    .filter((g): g is Record<string, unknown> => !!g && typeof g === "object")
    .map((g) => {
      const extra: Record<string, number> = {};
      for (const [k, v] of Object.entries(g))
        if (!["name", "passed", "value", "threshold", "detail"].includes(k) && num(v) !== null) extra[k] = v as number;
      return {
        name: String(g.name ?? "?"),
        passed: g.passed === true,
        value: num(g.value),
        threshold: num(g.threshold),
        detail: typeof g.detail === "string" ? g.detail : "",
        ...(Object.keys(extra).length ? { extra } : {}),
      };
    });
}

export async function roundReport(admin: ProductClient, r: RoundRow): Promise<ReportRound> {
  const full = await admin.query<{ metrics: { step: number; values: Record<string, number> }[] }>("rounds.get", {
    roundId: r.id,
    afterStep: -1,
  });
  return {
    number: r.number,
    status: r.status,
    baseVersion: r.baseVersion?.name ?? null,
    resultVersion: r.resultVersion?.name ?? null,
    pairsTrain: r.pairsTrain,
    pairsHeldout: r.pairsHeldout,
    pairs: pairsUsed(r as unknown as Record<string, unknown>),
    beta: roundBeta(r.config, r.summary),
    lossFirst: num(r.summary?.first?.loss),
    lossLast: num(r.summary?.last?.loss),
    marginsLast: num(r.summary?.last?.["rewards/margins"]),
    heldoutAccuracy: num(r.summary?.heldout?.accuracy),
    heldoutLoss: num(r.summary?.heldout?.loss),
    heldoutLossBefore: num(r.summary?.heldoutBefore?.loss),
    klGate: num(r.summary?.kl?.kl),
    gates: roundGates(r.gates),
    seconds: num(r.summary?.seconds),
    error: r.error,
    metrics: full.metrics.map((m) => ({
      step: m.step,
      loss: m.values.loss,
      margins: m.values["rewards/margins"],
      accuracy: m.values["rewards/accuracies"],
    })),
  };
}
