// Bring your own model in real Chromium: an admin imports a model directory on the server from
// the Models page (a broken one first: a clear error and nothing added), serves the good one
// now, and a labeler's next battle is sampled from it, as the arena's reveal shows. Serving
// returns to the house model at the end so other specs see what they expect.
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { type APIRequestContext, expect, test } from "@playwright/test";
import { adminPassword, adminUsername, signInAdmin } from "./admin.ts";

const run = Date.now().toString(36);
const HOUSE = path.resolve(process.cwd(), "models/house"); // e2e/run.ts runs from the project root
const dirs: string[] = [];

async function houseCopy(prefix: string, eps: number | null): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), `dpo-e2e-model-${prefix}-`));
  dirs.push(dir);
  for (const f of ["config.json", "model.safetensors"]) await cp(path.join(HOUSE, f), path.join(dir, f));
  if (eps !== null) {
    // Same weights, another layer-norm epsilon: a valid model that is not the house model.
    const config = JSON.parse(await readFile(path.join(dir, "config.json"), "utf8"));
    await writeFile(path.join(dir, "config.json"), JSON.stringify({ ...config, layer_norm_epsilon: eps }));
  }
  return dir;
}

async function trpc(request: APIRequestContext, procedure: string, input: unknown) {
  const res = await request.post(`/api/trpc/${procedure}`, { data: { json: input }, headers: { "content-type": "application/json" } });
  if (!res.ok()) throw new Error(`${procedure} → ${res.status()}: ${await res.text()}`);
}

test.afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

test("an admin imports a model from the Models page, serves it now, and the arena samples from it", async ({ page, browser, request }) => {
  test.setTimeout(180_000);
  await page.setViewportSize({ width: 1280, height: 900 });
  await signInAdmin(page);
  await page.getByRole("link", { name: "Models" }).first().click();
  await expect(page.getByRole("heading", { name: "Models", level: 1 })).toBeVisible();
  const rows = page.getByTestId("model-row");
  await expect(rows.first()).toBeVisible();
  const before = await rows.count();
  const house = rows.filter({ hasText: "house model" }).first();
  const houseVersion = (await house.getAttribute("data-version"))!;

  // A directory without config.json: refused with the reason, nothing added.
  const broken = await houseCopy("broken", 2e-6);
  await rm(path.join(broken, "config.json"));
  await page.getByLabel("Directory on the server").fill(broken);
  await page.getByLabel("Name", { exact: true }).fill(`broken ${run}`);
  await page.getByRole("button", { name: "Import" }).click();
  const importForm = page.getByRole("region", { name: "Import a model" });
  await expect(importForm.getByRole("alert")).toContainText(/Cannot import: .* has no config\.json/);
  await expect(rows).toHaveCount(before);

  // A relative path is refused field by field before anything runs.
  await page.getByLabel("Directory on the server").fill("models/house");
  await page.getByRole("button", { name: "Import" }).click();
  await expect(page.getByText(/absolute path on the server/)).toBeVisible();

  // A good directory: registered as a CANDIDATE lineage root, not served yet.
  const good = await houseCopy("good", 1e-6 + Math.random() * 1e-7);
  await page.getByLabel("Directory on the server").fill(good);
  await page.getByLabel("Name", { exact: true }).fill(`Imported ${run}`);
  await page.getByRole("button", { name: "Import" }).click();
  const status = page.getByRole("status").filter({ hasText: /Imported v\d+/ });
  await expect(status).toContainText(/gpt2, .* parameters\)\. Serve it from the table/, { timeout: 60_000 });
  const version = /Imported (v\d+)/.exec((await status.textContent()) ?? "")![1]!;
  const row = page.locator(`[data-testid="model-row"][data-version="${version}"]`);
  await expect(row).toHaveAttribute("data-status", "CANDIDATE");
  await expect(row).toContainText(`Imported ${run}`);
  await expect(row).toContainText("imported");
  await expect(row).toContainText("gpt2");
  await expect(row).toContainText("lineage root");
  await page.screenshot({ path: "docs/screenshots/models.png", fullPage: true });

  // Serve now: the ordinary promotion.
  await row.getByRole("button", { name: "Serve now" }).click();
  await expect(row).toHaveAttribute("data-status", "SERVING", { timeout: 30_000 });
  await expect(page.locator(`[data-testid="model-row"][data-version="${houseVersion}"]`)).toHaveAttribute("data-status", "RETIRED");

  try {
    // A labeler's battles now come from the imported version. The first one may be an overlap
    // copy of a battle sampled before the swap (a prompt two labelers judge reuses the first
    // battle's completions, so their votes can agree or not), so vote until one reveals it.
    await trpc(request, "auth.signIn", { username: adminUsername, password: adminPassword });
    await trpc(request, "arena.updateSettings", { sampling: { maxNewTokens: 8 }, arena: { onPolicyShare: 1 } });
    await trpc(request, "users.createLabeler", { username: `models${run}`, password: "labeler-pass-123" });
    const labeler = await browser.newPage();
    await labeler.goto("/login");
    await labeler.getByLabel("Username").fill(`models${run}`);
    await labeler.getByLabel("Password").fill("labeler-pass-123");
    await labeler.getByRole("button", { name: "Sign in" }).click();
    await expect(labeler).toHaveURL(/\/arena$/);
    const revealed: string[] = [];
    for (let i = 0; i < 6 && !revealed.some((t) => t.includes(`(${version})`)); i++) {
      await expect(labeler.getByRole("button", { name: /A is better/ })).toBeEnabled({ timeout: 90_000 });
      await labeler.keyboard.press("1");
      await expect(labeler.getByTestId("reveal")).not.toContainText("saving…", { timeout: 30_000 });
      revealed.push((await labeler.getByTestId("reveal-versions").textContent({ timeout: 30_000 })) ?? "");
    }
    expect(revealed.at(-1), revealed.join(" | ")).toContain(`came from the current model (${version})`);
    await labeler.close();
  } finally {
    // Back to the house model for the specs that follow, even when a check above failed.
    await page.locator(`[data-testid="model-row"][data-version="${houseVersion}"]`).getByRole("button", { name: "Serve now" }).click();
    await expect(page.locator(`[data-testid="model-row"][data-version="${houseVersion}"]`)).toHaveAttribute("data-status", "SERVING", {
      timeout: 30_000,
    });
  }
});
