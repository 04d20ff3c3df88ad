// The labeler-quality page in real Chromium: the reliability table and ε on the stored votes,
// gold-pair import with its report, the gold list and deactivation.
import { expect, test } from "@playwright/test";
import { signInAdmin } from "./admin.ts";
import { insertDecisiveVotes } from "./db.ts";

const run = Date.now().toString(36);

test("an admin reads labeler reliability and imports gold pairs", async ({ page }) => {
  await insertDecisiveVotes(6, `quality-${run}`);
  await page.setViewportSize({ width: 1280, height: 900 });
  await signInAdmin(page);
  await page.goto("/admin/quality");
  await expect(page.getByRole("heading", { name: "Labeler quality", level: 1 })).toBeVisible();
  await expect(page.getByTestId("overall-epsilon")).toHaveText(/^0\.\d\d$/);
  // The seeded labelers' votes are on pairs nobody else judged: unchecked, at the prior.
  const table = page.getByTestId("quality-table");
  await expect(table.getByRole("row").nth(1)).toContainText("unchecked");

  const jsonl = [
    JSON.stringify({
      prompt: `Greet a guest ${run}`,
      completion_a: "Welcome, come in!",
      completion_b: "What do you want?",
      expected: "A",
      note: "kindness",
    }),
    JSON.stringify({ prompt: "same texts", completion_a: "x", completion_b: "x", expected: "B" }),
    JSON.stringify({ prompt: `Two fine answers ${run}`, completion_a: "Yes.", completion_b: "Indeed.", expected: "tie" }),
  ].join("\n");
  await page.getByLabel("Or paste JSONL").fill(jsonl);
  await page.getByRole("button", { name: "Import" }).click();
  const report = page.getByTestId("gold-import-report");
  await expect(report.getByRole("status")).toHaveText("Added 2 gold pairs; 0 already stored; 1 line rejected.");
  await expect(report).toContainText("completion_a and completion_b are the same text");

  const item = page
    .getByTestId("gold-list")
    .getByRole("listitem")
    .filter({ hasText: `Greet a guest ${run}` });
  await expect(item).toContainText("A · expected");
  await expect(item).toContainText("kindness");
  await expect(page.getByTestId("quality-summary")).toContainText("Active gold pairs2");
  await page.screenshot({ path: "docs/screenshots/admin-quality.png", fullPage: true });
  await item.getByRole("button", { name: "Deactivate" }).click();
  await expect(item.getByRole("button", { name: "Activate" })).toBeVisible();
  await expect(page.getByTestId("quality-summary")).toContainText("Active gold pairs1");
});
