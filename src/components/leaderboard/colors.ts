// Stable colours: a version keeps its colour as new versions appear (hash of the name → hue).
export function colorOf(model: string): string {
  let h = 0;
  for (let i = 0; i < model.length; i++) h = (h * 31 + model.charCodeAt(i)) >>> 0;
  // Versions are named v0, v1, …: spread consecutive numbers by the golden angle.
  const n = /^v(\d+)$/.exec(model);
  const hue = n ? (Number(n[1]) * 137.508) % 360 : h % 360;
  return `hsl(${hue.toFixed(0)} 70% 42%)`;
}

/** Win fraction 0 → red, 0.5 → near white, 1 → blue; text stays readable on both ends. */
export function heatColor(fraction: number): { background: string; color: string } {
  const d = Math.abs(fraction - 0.5) * 2; // 0 at even, 1 at a sweep
  const hue = fraction >= 0.5 ? 221 : 0;
  const lightness = 97 - d * 47;
  return { background: `hsl(${hue} 80% ${lightness.toFixed(0)}%)`, color: lightness < 65 ? "white" : "#0f172a" };
}
