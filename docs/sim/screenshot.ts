// PNG of a sim report page for the README: `npx tsx docs/sim/screenshot.ts REPORT.html OUT.png`.
// Uses Debian's chromium through playwright-core (nothing is downloaded).
import path from "node:path";
import { chromium } from "playwright-core";

const [html, png] = process.argv.slice(2);
if (!html || !png) {
  process.stderr.write("usage: npx tsx docs/sim/screenshot.ts REPORT.html OUT.png\n");
  process.exit(2);
}
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium" });
try {
  const page = await browser.newPage({ viewport: { width: 1150, height: 1100 } });
  await page.goto(`file://${path.resolve(html)}`);
  // chart.js draws on the next frames; animations are off, so a short wait is enough.
  await page.waitForTimeout(800);
  await page.screenshot({ path: png, fullPage: true });
} finally {
  await browser.close();
}
