"use client";
// Small presentation helpers the rounds page shares: a rounded number that shows the exact value
// on hover, plurals, and the colour of each round status.
export const ACTIVE = new Set(["QUEUED", "RUNNING"]);

export const STATUS_STYLE: Record<string, string> = {
  QUEUED: "bg-amber-100 text-amber-800",
  RUNNING: "bg-blue-100 text-blue-800",
  SUCCEEDED: "bg-green-100 text-green-800",
  REJECTED: "bg-orange-100 text-orange-800",
  FAILED: "bg-red-100 text-red-800",
  CANCELLED: "bg-slate-100 text-slate-600",
};

export const plural = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;

/** `digits` decimals (fewer for large values), the exact value in the tooltip. */
export function Num({ value, digits = 3 }: { value: number | null | undefined; digits?: number }) {
  if (typeof value !== "number" || !Number.isFinite(value)) return <span>—</span>;
  const d = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? Math.min(digits, 1) : digits;
  return (
    <span title={String(value)} className="tabular-nums">
      {value.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d })}
    </span>
  );
}

export function StatusBadge({ status }: { status: string }) {
  return <span className={`rounded-full px-2 py-0.5 text-xs font-medium ${STATUS_STYLE[status] ?? ""}`}>{status.toLowerCase()}</span>;
}
