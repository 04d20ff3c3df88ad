// The admin console in real Chromium: prompt import with its report, search and disable;
// validated sampling settings; the rounds page with versions. Takes the README screenshots.
import { expect, test } from "@playwright/test";
import { signInAdmin } from "./admin.ts";

const run = Date.now().toString(36);

test.beforeEach(async ({ page }) => {
  await page.setViewportSize({ width: 1280, height: 900 });
  await signInAdmin(page);
});

test("import prompts from JSONL with a rejected-lines report, then search and disable one", async ({ page }) => {
  await page.getByRole("navigation", { name: "Admin sections" }).getByRole("link", { name: "Prompts" }).click();
  await expect(page.getByRole("heading", { name: "Prompt pool", level: 1 })).toBeVisible();
  const jsonl = [
    `{"prompt": "Describe a lighthouse ${run}"}`,
    "not json at all",
    `{"prompt": "Name three rivers ${run}", "overlapTarget": 2}`,
    `{"text": "wrong key"}`,
    `{"prompt": "bad target", "overlapTarget": 0}`,
  ].join("\n");
  await page.getByLabel("Or paste prompts").fill(jsonl);
  await page.getByLabel("Format").selectOption("jsonl");
  await page.getByRole("button", { name: "Import" }).click();
  const report = page.getByTestId("import-report");
  await expect(report.getByRole("status")).toContainText("Added 2 prompts (jsonl); 0 already in the pool; 3 lines rejected.");
  await expect(report.getByRole("row")).toHaveCount(4);
  await expect(report).toContainText("not valid JSON");
  await expect(report).toContainText('missing a string "prompt" field');
  await expect(report).toContainText("overlap target must be a whole number from 1 to 100, got 0");

  await page.getByLabel("Search prompts").fill(`rivers ${run}`);
  const row = page.getByTestId("prompt-row").filter({ hasText: `Name three rivers ${run}` });
  await expect(row).toContainText("overlap 2");
  await expect(page.getByTestId("prompt-row")).toHaveCount(1);
  await page.getByLabel("Search prompts").fill("");
  await page.screenshot({ path: "docs/screenshots/admin-prompts.png", fullPage: true });
  await page.getByLabel("Search prompts").fill(`rivers ${run}`);
  await row.getByRole("button", { name: "Disable" }).click();
  await expect(row.getByRole("button", { name: "Enable" })).toBeVisible();
  await page.getByLabel("Status").selectOption("disabled");
  await expect(page.getByTestId("prompt-row")).toHaveCount(1);
});

test("sampling settings are validated field by field", async ({ page }) => {
  await page.goto("/admin/settings");
  await page.getByLabel("Temperature").fill("0");
  await page.getByLabel("Max new tokens").fill("5000");
  await page.getByRole("button", { name: "Save settings" }).click();
  await expect(page.getByText("Temperature must be > 0 for battles")).toBeVisible();
  await expect(page.getByText("Max new tokens must be ≤ 512")).toBeVisible();
  await expect(page.getByLabel("Temperature")).toHaveAttribute("aria-invalid", "true");

  await page.getByLabel("Temperature").fill("0.8");
  await page.getByLabel("Max new tokens").fill("16");
  await page.getByRole("button", { name: "Save settings" }).click();
  await expect(page.getByRole("status")).toHaveText("Saved.");
  await page.reload();
  await expect(page.getByLabel("Temperature")).toHaveValue("0.8");
  await expect(page.getByLabel("Max new tokens")).toHaveValue("16");
  await page.screenshot({ path: "docs/screenshots/admin-settings.png", fullPage: true });
});

test("the training rounds page lists rounds and the serving version", async ({ page }) => {
  await page.getByRole("link", { name: "Rounds" }).first().click();
  await expect(page.getByRole("heading", { name: "Training rounds", level: 1 })).toBeVisible();
  await expect(page.getByTestId("version-list")).toContainText("v0");
  await expect(page.getByTestId("version-list")).toContainText("serving");
  await expect(page.getByRole("button", { name: "Start a round now" })).toBeEnabled();
  // Still a fresh install here (the specs run in file order): only v0, nothing to roll back to.
  await expect(page.getByTestId("version-row")).toHaveCount(1);
  await expect(page.getByRole("button", { name: "Roll back to the previous version" })).toHaveCount(0);
  await page.screenshot({ path: "docs/screenshots/admin-rounds.png", fullPage: true });
});
