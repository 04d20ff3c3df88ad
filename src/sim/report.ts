// The sim's report: report.json (the numbers, for the README and for machines), report.html
// (charts), with chart.js copied next to it from node_modules so the page works offline and
// loads nothing from a CDN, and reward-vs-kl.svg (the trade-off as a static picture).
import { existsSync } from "node:fs";
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import type { VersionEvaluation } from "./evaluate.ts";
import { type Curve, rewardKlSvg } from "./plot.ts";
import type { PairsUsed } from "./product/settings-names.ts";
import type { FlagScore, LabelerEstimateRow } from "./quality-report.ts";
import type { SeedStat } from "./summary.ts";

/** A version's measurement (see evaluate.ts) plus what the arena and the trainer know of it. */
export interface ReportVersion extends VersionEvaluation {
  /** held-out preference accuracy of the round that produced this version (null for v0) */
  heldoutAccuracy: number | null;
  /** arena Bradley–Terry rating (null when the version had no battle against another version) */
  rating: number | null;
  ratingCi: [number, number] | null;
  ratingBattles: number;
  status: string;
}

export interface ReportGate {
  name: string;
  passed: boolean;
  value: number | null;
  threshold: number | null;
  detail: string;
  /** other numbers the gate recorded (a p-value, a confidence bound, …) */
  extra?: Record<string, number>;
}

export interface ReportRound {
  number: number;
  status: string;
  baseVersion: string | null;
  resultVersion: string | null;
  pairsTrain: number | null;
  pairsHeldout: number | null;
  /** pairs by origin; a field the product does not record is null */
  pairs: PairsUsed;
  beta: number | null;
  lossFirst: number | null;
  lossLast: number | null;
  marginsLast: number | null;
  heldoutAccuracy: number | null;
  heldoutLoss: number | null;
  /** held-out loss of the round's starting policy, when the product records it */
  heldoutLossBefore: number | null;
  klGate: number | null;
  gates: ReportGate[];
  seconds: number | null;
  error: string | null;
  metrics: { step: number; loss: number; margins: number; accuracy: number }[];
}

export interface SweepPoint {
  beta: number;
  versions: ReportVersion[];
}

export interface SeedRun {
  seed: number;
  versions: ReportVersion[];
  rounds: ReportRound[];
  summary: Record<string, unknown>;
}

export interface SimReport {
  /** the first (or only) seed's versions, v0 first */
  versions: ReportVersion[];
  rounds: ReportRound[];
  sweep?: SweepPoint[];
  /** every seed of a --seeds run, and the mean ± s.e. of their summaries */
  seeds?: SeedRun[];
  aggregate?: Record<string, SeedStat>;
  summary: Record<string, unknown>;
  /** the run's options; `rootKlBudget` is the loop's setting (null when the product has none) */
  config: Record<string, unknown> & { rootKlBudget: number | null };
  labelers: unknown[];
  /** the product's estimate of every labeler next to the sim's truth (quality-report.ts) */
  labelerQuality?: { rows: LabelerEstimateRow[]; flags: FlagScore };
}

export const SVG_FILE = "reward-vs-kl.svg";

/** The curves of the reward-vs-KL picture: one per β of a sweep, else one per seed. */
export function reportCurves(report: SimReport): Curve[] {
  const curve = (label: string, versions: ReportVersion[]): Curve => ({
    label,
    points: versions.map((v) => ({ x: v.klFromRoot ?? v.kl, y: v.meanReward, name: v.name })),
  });
  if (report.sweep?.length) return report.sweep.map((s) => curve(`β = ${s.beta}`, s.versions));
  if (report.seeds && report.seeds.length > 1) return report.seeds.map((s) => curve(`seed ${s.seed}`, s.versions));
  return [curve("this run", report.versions)];
}

const CHART_FILE = "chart.umd.js";

function chartSource(): string {
  // The UMD bundle is not in chart.js's "exports", so it is found next to the CommonJS entry.
  const file = path.join(path.dirname(createRequire(import.meta.url).resolve("chart.js")), "chart.umd.js");
  if (!existsSync(file)) throw new Error(`chart.js's browser bundle is missing at ${file}; reinstall dependencies (npm ci)`);
  return file;
}

export async function writeReport(outDir: string, report: SimReport): Promise<{ json: string; html: string; svg: string }> {
  await mkdir(outDir, { recursive: true });
  const json = path.join(outDir, "report.json");
  const html = path.join(outDir, "report.html");
  const svg = path.join(outDir, SVG_FILE);
  await writeFile(json, `${JSON.stringify(report, null, 2)}\n`);
  await copyFile(chartSource(), path.join(outDir, CHART_FILE));
  await writeFile(svg, rewardKlSvg(reportCurves(report), { budget: report.config.rootKlBudget }));
  await writeFile(html, renderHtml(report));
  return { json, html, svg };
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
const fmt = (x: number | null | undefined, d = 3) => (x === null || x === undefined || !Number.isFinite(x) ? "–" : x.toFixed(d));

/** The product's estimate of each labeler next to the truth, and how well the chance flag did. */
export function labelerQualityTable(q: SimReport["labelerQuality"]): string {
  if (!q) return "";
  const rows = q.rows
    .map(
      (r) =>
        `<tr><td>${escapeHtml(r.username)}</td><td>${r.careless ? escapeHtml(`careless (${r.carelessKind})`) : "careful"}</td><td>${r.votes}</td>` +
        `<td>${fmt(r.flipRate, 2)}${r.flipRateInterval ? ` [${fmt(r.flipRateInterval[0], 2)}, ${fmt(r.flipRateInterval[1], 2)}]` : ""}</td>` +
        `<td>${escapeHtml(r.flag ?? "–")}</td><td>${fmt(r.goldAccuracy, 2)}</td></tr>`,
    )
    .join("\n");
  return `<h2>Labelers: the product's estimate against the sim's truth</h2>
<p>"chance" flag: precision ${fmt(q.flags.precision, 2)}, recall ${fmt(q.flags.recall, 2)} (${q.flags.flagged} flagged, ${q.flags.careless} careless)</p>
<table><tr><th>labeler</th><th>truth</th><th>votes</th><th>flip rate [interval]</th><th>flag</th><th>gold accuracy</th></tr>
${rows}</table>`;
}

function versionTable(versions: ReportVersion[]): string {
  const rows = versions
    .map(
      (v) =>
        `<tr><td>${escapeHtml(v.name)}</td><td>${fmt(v.meanReward)} ± ${fmt(v.rewardStderr)}</td><td>${fmt(v.rewardStd)}</td><td>${fmt(v.meanRewardT1)}</td><td>${fmt(v.meanSummedReward)}</td>` +
        `<td>${fmt(v.klFromRoot)} ± ${fmt(v.klFromRootStderr)}</td><td>${fmt(v.repetitionRate)}</td><td>${fmt(v.degenerateShare)}</td><td>${fmt(v.heldoutCorpusLoss)}</td>` +
        `<td>${fmt(v.heldoutAccuracy)}</td><td>${v.rating === null ? "–" : `${fmt(v.rating, 0)} [${fmt(v.ratingCi?.[0], 0)}, ${fmt(v.ratingCi?.[1], 0)}]`}</td><td>${v.ratingBattles}</td><td>${escapeHtml(v.status)}</td></tr>`,
    )
    .join("\n");
  return `<table><thead><tr><th>version</th><th>reward (served) ± s.e.</th><th>std</th><th>reward T=1</th><th>old summed reward</th><th>KL from v0 ± s.e.</th><th>repeated 3-grams</th><th>degenerate</th><th>corpus loss (nats/byte)</th><th>held-out acc.</th><th>arena rating [95% CI]</th><th>rated battles</th><th>status</th></tr></thead><tbody>${rows}</tbody></table>`;
}

const dash = (x: number | null | undefined, d = 3) =>
  x === null || x === undefined || !Number.isFinite(x) ? "—" : Number.isInteger(x) ? String(x) : x.toFixed(d);

function roundTable(rounds: ReportRound[]): string {
  const rows = rounds
    .map((r) => {
      const gates = r.gates.map((g) => `${escapeHtml(g.name)} ${g.passed ? "✓" : "✗"} ${dash(g.value)}/${dash(g.threshold)}`).join("; ");
      return `<tr><td>${r.number}</td><td>${escapeHtml(r.status)}</td><td>${escapeHtml(r.resultVersion ?? "—")}</td><td>${dash(r.beta)}</td><td>${dash(r.pairs.new)}</td><td>${dash(r.pairs.returned)}</td><td>${dash(r.pairs.versus)}</td><td>${dash(r.pairs.train)}</td><td>${dash(r.pairs.heldout)}</td><td>${dash(r.heldoutAccuracy)}</td><td>${dash(r.heldoutLossBefore)} → ${dash(r.heldoutLoss)}</td><td>${dash(r.klGate)}</td><td style="text-align:left">${gates || "—"}</td></tr>`;
    })
    .join("\n");
  return `<table><thead><tr><th>round</th><th>status</th><th>result</th><th>β</th><th>new pairs</th><th>returned</th><th>VERSUS</th><th>train</th><th>held-out</th><th>held-out acc.</th><th>held-out loss before → after</th><th>gate KL</th><th>gates (value/threshold)</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function renderHtml(report: SimReport): string {
  // Data goes in as JSON inside a script element; "<" is escaped so no text can close it.
  const data = JSON.stringify({ versions: report.versions, rounds: report.rounds, sweep: report.sweep ?? [] }).replace(/</g, "\\u003c");
  const summary = Object.entries(report.summary)
    .map(
      ([k, v]) =>
        `<li><b>${escapeHtml(k)}</b>: ${escapeHtml(typeof v === "number" ? (Number.isInteger(v) ? String(v) : fmt(v)) : JSON.stringify(v))}</li>`,
    )
    .join("");
  const aggregate = report.aggregate
    ? `<h2>Over ${report.seeds?.length ?? 0} seeds (mean ± s.e.)</h2><ul>${Object.entries(report.aggregate)
        .map(([k, a]) => `<li><b>${escapeHtml(k)}</b>: ${fmt(a.mean)}${a.se === null ? "" : ` ± ${fmt(a.se)}`} (n ${a.n})</li>`)
        .join("")}</ul>`
    : "";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dpo-arena sim report</title>
<style>
body{font:14px system-ui,sans-serif;margin:24px;color:#111;max-width:1100px}
table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f3f3f3}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:24px}.card{border:1px solid #ddd;border-radius:6px;padding:12px}
h1{font-size:20px}h2{font-size:15px;margin:0 0 8px}
</style>
<script src="${CHART_FILE}"></script></head>
<body>
<h1>dpo-arena: synthetic labelers, true reward per policy version</h1>
<ul>${summary}</ul>
${aggregate}
${versionTable(report.versions)}
<p><img src="${SVG_FILE}" alt="true reward against KL from v0"></p>
${roundTable(report.rounds)}
${labelerQualityTable(report.labelerQuality)}
<div class="grid">
<div class="card"><h2>Mean true reward per version (± 1 s.e.)</h2><canvas id="reward"></canvas></div>
<div class="card"><h2>True reward vs KL(π‖π_ref)</h2><canvas id="frontier"></canvas></div>
<div class="card"><h2>Round loss per step</h2><canvas id="loss"></canvas></div>
<div class="card"><h2>Round reward margins per step</h2><canvas id="margins"></canvas></div>
</div>
<script id="data" type="application/json">${data}</script>
<script>
const D = JSON.parse(document.getElementById("data").textContent);
const palette = ["#2563eb","#dc2626","#16a34a","#9333ea","#ea580c","#0891b2","#ca8a04"];
const names = D.versions.map(v => v.name);
new Chart(document.getElementById("reward"), { type: "line", data: { labels: names, datasets: [
  { label: "mean reward", data: D.versions.map(v => v.meanReward), borderColor: palette[0] },
  { label: "+1 s.e.", data: D.versions.map(v => v.meanReward + v.rewardStderr), borderColor: "#93c5fd", borderDash: [4,4], pointRadius: 0 },
  { label: "−1 s.e.", data: D.versions.map(v => v.meanReward - v.rewardStderr), borderColor: "#93c5fd", borderDash: [4,4], pointRadius: 0 } ] },
  options: { animation: false, scales: { y: { title: { display: true, text: "true reward per completion" } } } } });
const curves = D.sweep.length ? D.sweep.map(s => ({ label: "β = " + s.beta, versions: s.versions })) : [{ label: "this run", versions: D.versions }];
new Chart(document.getElementById("frontier"), { type: "scatter", data: { datasets: curves.map((c, i) => ({
  label: c.label, showLine: true, borderColor: palette[i % palette.length], backgroundColor: palette[i % palette.length],
  data: c.versions.map(v => ({ x: v.klFromRoot ?? v.kl, y: v.meanReward })) })) },
  options: { animation: false, scales: { x: { title: { display: true, text: "KL(π‖π_ref), nats per completion" } }, y: { title: { display: true, text: "mean true reward" } } } } });
function perStep(id, key) {
  new Chart(document.getElementById(id), { type: "scatter", data: { datasets: D.rounds.filter(r => r.metrics.length).map((r, i) => ({
    label: "round " + r.number + " (" + r.status + ")", showLine: true, borderColor: palette[i % palette.length], backgroundColor: palette[i % palette.length], pointRadius: 1,
    data: r.metrics.map(m => ({ x: m.step, y: m[key] })) })) },
    options: { animation: false, scales: { x: { title: { display: true, text: "step" } } } } });
}
perStep("loss", "loss");
perStep("margins", "margins");
</script>
</body></html>
`;
}
