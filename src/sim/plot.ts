// A static SVG of true reward against KL from the root, one curve per seed or β, so the
// trade-off can be read without a browser (README, RESULTS.md) and the budget line is in view.

export interface Curve {
  label: string;
  points: { x: number; y: number; name: string }[];
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04"];

function ticks(lo: number, hi: number, n = 5): number[] {
  const span = hi - lo || 1;
  const raw = span / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9; t += step) out.push(Number(t.toFixed(10)));
  return out;
}

export function rewardKlSvg(curves: Curve[], opts: { budget?: number | null; title?: string; yLabel?: string } = {}): string {
  const W = 640,
    H = 420,
    L = 64,
    R = 20,
    T = 36,
    B = 52;
  const pts = curves.flatMap((c) => c.points).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const xsMax = Math.max(1, ...pts.map((p) => p.x), opts.budget ?? 0) * 1.05;
  const ysMin = Math.min(0, ...pts.map((p) => p.y));
  const ysMax = Math.max(...pts.map((p) => p.y), ysMin + 1);
  const pad = (ysMax - ysMin) * 0.08;
  const [y0, y1] = [ysMin - pad, ysMax + pad];
  const sx = (x: number) => L + (x / xsMax) * (W - L - R);
  const sy = (y: number) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  const parts: string[] = [];
  parts.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#fff"/>`);
  parts.push(
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="600">${esc(opts.title ?? "True reward vs KL from the root (v0)")}</text>`,
  );
  for (const t of ticks(0, xsMax)) {
    parts.push(
      `<line x1="${sx(t)}" y1="${T}" x2="${sx(t)}" y2="${H - B}" stroke="#eee"/><text x="${sx(t)}" y="${H - B + 16}" text-anchor="middle" font-size="11">${t}</text>`,
    );
  }
  for (const t of ticks(y0, y1)) {
    parts.push(
      `<line x1="${L}" y1="${sy(t)}" x2="${W - R}" y2="${sy(t)}" stroke="#eee"/><text x="${L - 6}" y="${sy(t) + 4}" text-anchor="end" font-size="11">${t}</text>`,
    );
  }
  parts.push(`<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}" fill="none" stroke="#999"/>`);
  parts.push(
    `<text x="${(L + W - R) / 2}" y="${H - 14}" text-anchor="middle" font-size="12">KL(π‖v0), nats per completion at the served length (exact per-token)</text>`,
  );
  parts.push(
    `<text transform="translate(16 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(opts.yLabel ?? "mean true reward, served settings")}</text>`,
  );
  if (opts.budget != null && Number.isFinite(opts.budget)) {
    parts.push(`<line x1="${sx(opts.budget)}" y1="${T}" x2="${sx(opts.budget)}" y2="${H - B}" stroke="#111" stroke-dasharray="6 4"/>`);
    parts.push(`<text x="${sx(opts.budget) + 4}" y="${T + 14}" font-size="11">root KL budget ${opts.budget}</text>`);
  }
  curves.forEach((c, i) => {
    const color = PALETTE[i % PALETTE.length];
    const ok = c.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
    if (ok.length > 1)
      parts.push(
        `<polyline fill="none" stroke="${color}" stroke-width="2" points="${ok.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(" ")}"/>`,
      );
    for (const p of ok) {
      parts.push(
        `<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="4" fill="${color}"/><text x="${(sx(p.x) + 6).toFixed(1)}" y="${(sy(p.y) - 6).toFixed(1)}" font-size="10">${esc(p.name)}</text>`,
      );
    }
    parts.push(
      `<rect x="${L + 10}" y="${T + 10 + i * 16}" width="10" height="10" fill="${color}"/><text x="${L + 26}" y="${T + 19 + i * 16}" font-size="11">${esc(c.label)}</text>`,
    );
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif">\n${parts.join("\n")}\n</svg>\n`;
}
