// The product's labeler-quality estimate next to the sim's ground truth (issue 15): per labeler,
// whether the sim made them careless (and how) and what the product's reliability model says
// (flip rate with its interval, the "chance" flag, gold accuracy); overall, how well the flag
// finds the careless ones (precision and recall).

/** One labeler as the product's quality page reports it (the fields the sim reads). */
export interface EstimatedLabeler {
  username: string;
  votes: number;
  flipRate: { estimate: number; lower: number; upper: number };
  flag: "no-evidence" | "chance" | null;
  gold: { correct: number; total: number; accuracy: number | null };
}

export interface TruthLabeler {
  username: string;
  careless: boolean;
  carelessKind?: string;
}

export interface LabelerEstimateRow {
  username: string;
  careless: boolean;
  carelessKind: string | null;
  votes: number;
  flipRate: number | null;
  flipRateInterval: [number, number] | null;
  flagged: boolean;
  flag: string | null;
  goldAccuracy: number | null;
}

export interface FlagScore {
  /** of the labelers flagged "chance", the share that are careless (null when none is flagged) */
  precision: number | null;
  /** of the careless labelers, the share flagged (null without careless labelers) */
  recall: number | null;
  flagged: number;
  careless: number;
}

export function labelerEstimates(
  truth: readonly TruthLabeler[],
  estimated: readonly EstimatedLabeler[],
): { rows: LabelerEstimateRow[]; flags: FlagScore } {
  const byName = new Map(estimated.map((e) => [e.username, e]));
  const rows = truth.map((t): LabelerEstimateRow => {
    const e = byName.get(t.username);
    return {
      username: t.username,
      careless: t.careless,
      carelessKind: t.careless ? (t.carelessKind ?? "random") : null,
      votes: e?.votes ?? 0,
      flipRate: e ? e.flipRate.estimate : null,
      flipRateInterval: e ? [e.flipRate.lower, e.flipRate.upper] : null,
      flagged: e?.flag === "chance",
      flag: e?.flag ?? null,
      goldAccuracy: e?.gold.accuracy ?? null,
    };
  });
  const flagged = rows.filter((r) => r.flagged);
  const careless = rows.filter((r) => r.careless);
  return {
    rows,
    flags: {
      precision: flagged.length ? flagged.filter((r) => r.careless).length / flagged.length : null,
      recall: careless.length ? careless.filter((r) => r.flagged).length / careless.length : null,
      flagged: flagged.length,
      careless: careless.length,
    },
  };
}
