// Importing preference data in real Chromium: a file with bad lines is refused whole with each
// line named, a good one is imported and listed, apart from votes.
import { expect, test } from "@playwright/test";
import { signInAdmin } from "./admin.ts";

const line = (o: unknown) => JSON.stringify(o);

test("paste a TRL file with bad lines, see it refused by line; paste a good one, see it listed", async ({ page }) => {
  await page.setViewportSize({ width: 1280, height: 900 });
  await signInAdmin(page);
  await page.goto("/admin/preferences");
  await expect(page.getByRole("heading", { name: "Preference data", level: 1 })).toBeVisible();
  await expect(page.getByText("Nothing imported yet.")).toBeVisible();

  const bad = [
    line({ prompt: "Sky?", chosen: " blue", rejected: " green" }),
    "{oops",
    line({ prompt: "Sea?", chosen: " wet", rejected: " wet" }),
  ];
  await page.getByLabel("Or paste lines").fill(bad.join("\n"));
  await page.getByRole("button", { name: "Import" }).click();
  const report = page.getByTestId("preference-import-report");
  await expect(report).toContainText("Nothing was imported: 2 lines rejected");
  await expect(report.getByRole("row", { name: /^2 not valid JSON/ })).toBeVisible();
  await expect(report.getByRole("row", { name: /^3 chosen and rejected are the same answer/ })).toBeVisible();

  const good = [line({ prompt: "Sky?", chosen: " blue", rejected: " green" }), line({ prompt: "Sea?", chosen: " wet", rejected: " dry" })];
  await page.getByLabel("Or paste lines").fill(good.join("\n"));
  await page.getByRole("button", { name: "Import" }).click();
  await expect(report).toContainText("Imported 2 pairs (trl), prepared for v0.");
  await expect(page.getByRole("row", { name: /pasted TRL 2 0 v0 lineage/ })).toBeVisible();
  await expect(page.getByTestId("offline-pair-counts")).toContainText("imported pairs");
  await page.screenshot({ path: "docs/screenshots/admin-preferences.png", fullPage: true });
});
