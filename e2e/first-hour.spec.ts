// Issue 20, "the first hour": what a new labeler and a new admin see on a fresh install, in real
// Chromium against the real server and the house model. Takes the README's arena-phone and
// leaderboard screenshots.
import { type APIRequestContext, expect, type Page, test } from "@playwright/test";
import { withClient } from "./db.ts";

const adminUsername = process.env.E2E_ADMIN_USERNAME ?? "admin";
const adminPassword = process.env.E2E_ADMIN_PASSWORD ?? "";
const PASSWORD = "labeler-pass-123";
const run = Date.now().toString(36);
const name = (who: string) => `fh${who}${run}`;
/** The length asked for in the boundary test, in bytes (the house model is byte-level). */
const MAX_NEW = 40;
const OVERSHOOT = 24; // stop-rule.ts, bytes

async function trpc(request: APIRequestContext, path: string, input: unknown) {
  const res = await request.post(`/api/trpc/${path}`, { data: { json: input }, headers: { "content-type": "application/json" } });
  if (!res.ok()) throw new Error(`${path} → ${res.status()}: ${await res.text()}`);
  return ((await res.json()) as { result: { data: { json: unknown } } }).result.data.json;
}

async function signInUi(page: Page, username: string, password: string) {
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

async function waitForVoteOpen(page: Page) {
  await expect(page.getByRole("button", { name: /A is better/ })).toBeEnabled({ timeout: 90_000 });
}

test.describe
  .serial("the first hour", () => {
    test.beforeAll(async ({ request }) => {
      await trpc(request, "auth.signIn", { username: adminUsername, password: adminPassword });
      await trpc(request, "arena.updateSettings", { sampling: { maxNewTokens: MAX_NEW, temperature: 0.9 }, arena: { onPolicyShare: 1 } });
      for (const who of ["new", "phone", "lab"]) await trpc(request, "users.createLabeler", { username: name(who), password: PASSWORD });
    });

    test("an anonymous visitor is told why they were sent to sign in, and returns to the page they wanted", async ({ page }) => {
      test.setTimeout(120_000);
      await page.goto("/arena");
      await expect(page).toHaveURL(/\/login\?reason=signin&next=%2Farena$/);
      await expect(page.getByTestId("login-reason")).toHaveText("You need to be signed in to open the arena.");
      await signInUi(page, name("lab"), PASSWORD);
      await expect(page).toHaveURL(/\/arena$/, { timeout: 45_000 });
    });

    test("a first-time labeler sees the instructions once, and again on demand; the reveal and agreement speak plainly", async ({
      page,
    }) => {
      test.setTimeout(180_000);
      await page.goto("/login");
      await signInUi(page, name("new"), PASSWORD);
      await expect(page).toHaveURL(/\/arena$/, { timeout: 45_000 });
      const instructions = page.getByTestId("instructions");
      await expect(instructions).toBeVisible();
      await expect(instructions).toContainText("Pick the completion that continues the prompt better");
      await expect(page.getByTestId("agreement-help")).toContainText("no overlapping prompts yet");

      await instructions.getByRole("button", { name: "Got it" }).click();
      await expect(instructions).toHaveCount(0);
      await page.reload();
      await waitForVoteOpen(page);
      await expect(page.getByTestId("instructions")).toHaveCount(0);
      await page.getByRole("button", { name: "How to judge" }).click();
      await expect(page.getByTestId("instructions")).toBeVisible();

      // The vote still works with the instructions open; both sides were the serving model.
      await page.keyboard.press("1");
      await expect(page.getByTestId("reveal-versions")).toHaveText(/^Both answers came from the current model \(v0\)/);
    });

    test("completions end at a word or sentence boundary past max new tokens, and the page shows exactly what is stored", async ({
      page,
    }) => {
      test.setTimeout(240_000);
      await page.goto("/login");
      await signInUi(page, name("lab"), PASSWORD);
      await expect(page).toHaveURL(/\/arena$/, { timeout: 45_000 });
      let boundaries = 0;
      for (let i = 0; i < 3; i++) {
        await waitForVoteOpen(page);
        const battleId = (await page.getByTestId("arena-prompt").getAttribute("data-battle-id"))!;
        const shown = { A: await page.getByTestId("completion-A").textContent(), B: await page.getByTestId("completion-B").textContent() };
        const stored = await withClient(
          async (db) =>
            (
              await db.query<{ slot: "A" | "B"; text: string; finishReason: string; tokens: number; maxNewTokens: number }>(
                `SELECT slot::text AS slot, text, "finishReason", cardinality("tokenIds") AS tokens, "maxNewTokens" FROM "Completion" WHERE "battleId" = $1`,
                [battleId],
              )
            ).rows,
        );
        expect(stored).toHaveLength(2);
        for (const c of stored) {
          expect(shown[c.slot]).toBe(c.text);
          expect(c.maxNewTokens).toBe(MAX_NEW);
          expect(["boundary", "eos"]).toContain(c.finishReason);
          if (c.finishReason !== "boundary") continue;
          boundaries++;
          // one token per byte: the cut lies between the target and the overshoot, after a whole word
          expect(c.tokens).toBeGreaterThanOrEqual(MAX_NEW);
          expect(c.tokens).toBeLessThanOrEqual(MAX_NEW + OVERSHOOT);
          expect(c.text).toMatch(/\S$/);
        }
        await page.keyboard.press("2");
        await expect(page.getByTestId("arena-prompt")).not.toHaveAttribute("data-battle-id", battleId);
      }
      expect(boundaries).toBeGreaterThan(0);
    });

    test("on a phone the vote buttons stay in reach with max-length completions; no keyboard hints", async ({ page }) => {
      test.setTimeout(180_000);
      const long = Array.from({ length: 80 }, (_, i) => ["the", "nation", "shall", "provide", "for", "its", "people", "and"][i % 8]).join(
        " ",
      );
      await plantLongBattle(name("lab"), long.slice(0, 512 + OVERSHOOT));
      await page.setViewportSize({ width: 375, height: 740 });
      await page.goto("/login");
      await signInUi(page, name("phone"), PASSWORD);
      await expect(page.getByTestId("arena-prompt")).toContainText(`long prompt ${run}`, { timeout: 45_000 });
      await waitForVoteOpen(page);
      await page.getByRole("button", { name: "Got it" }).click();
      await expect(page.getByTestId("completion-A")).toHaveText(long.slice(0, 512 + OVERSHOOT));
      for (const choice of [/A is better/, /B is better/, /Tie/, /Both are bad/, /Skip/])
        await expect(page.getByRole("button", { name: choice })).toBeInViewport({ ratio: 1 });
      await expect(page.getByText("The keyboard is fastest")).toBeHidden();
      await expect(page.locator("kbd").first()).toBeHidden();
      expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBeLessThanOrEqual(0);
      await page.screenshot({ path: "docs/screenshots/arena-phone.png" });
      await page.getByRole("button", { name: /B is better/ }).click();
      await expect(page.getByTestId("reveal")).toContainText("B is better");
    });

    test("the leaderboard of a fresh install lists v0 as serving, says why nothing is rated yet, and shows progress to the next round", async ({
      page,
    }) => {
      await page.setViewportSize({ width: 1280, height: 900 });
      await page.goto("/login");
      await signInUi(page, adminUsername, adminPassword);
      await expect(page).toHaveURL(/\/admin$/, { timeout: 45_000 });
      await page.goto("/leaderboard");
      const v0 = page.getByTestId("version-row-v0");
      await expect(v0).toContainText("Serving");
      await expect(page.getByTestId("versions-panel")).toContainText("needs votes on battles between two different versions");
      await expect(page.getByTestId("next-round")).toHaveText(/Next training round: \d+ of 1,000 votes/);
      await expect(page.getByTestId("no-ratings")).toBeVisible();
      // the labelers' votes above are v0's self-battles
      expect(Number((await v0.locator("td").nth(2).textContent()) ?? "0")).toBeGreaterThanOrEqual(4);
      await page.screenshot({ path: "docs/screenshots/leaderboard.png", fullPage: true });
    });

    test("small things: favicon, the 403 page's navigation, the prompt pool's controls, settings in plain words", async ({
      page,
      request,
    }) => {
      test.setTimeout(120_000);
      const icon = await request.get("/favicon.ico");
      expect(icon.status()).toBe(200);
      expect(icon.headers()["content-type"]).toMatch(/^image\//);
      await page.goto("/login");
      const linked = await page.locator('link[rel="icon"]').first().getAttribute("href");
      expect(linked).toBeTruthy();
      expect((await request.get(linked!)).status()).toBe(200);

      // A labeler on an admin page gets the 403 with the app's navigation.
      await signInUi(page, name("lab"), PASSWORD);
      await expect(page).toHaveURL(/\/arena$/, { timeout: 45_000 });
      await page.goto("/admin/settings");
      await expect(page.getByRole("heading", { name: "Admins only" })).toBeVisible();
      await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Leaderboard" }).click();
      await expect(page).toHaveURL(/\/leaderboard$/);
      await page.getByRole("button", { name: "Sign out" }).click();
      await expect(page).toHaveURL(/\/login$/);

      await page.setViewportSize({ width: 1280, height: 900 });
      await signInUi(page, adminUsername, adminPassword);
      await expect(page).toHaveURL(/\/admin$/, { timeout: 45_000 });
      await page.goto("/admin/prompts");
      // search and filter sit on the heading's row at their own widths
      const heading = await page.getByRole("heading", { name: /Prompt pool/, level: 2 }).boundingBox();
      const search = await page.getByLabel("Search prompts").boundingBox();
      expect(search!.width).toBeLessThan(300);
      expect(Math.abs(search!.y - heading!.y)).toBeLessThan(30);
      // Import empties the form, so the button cannot import the same text twice
      await page.getByLabel("Or paste prompts").fill(`A question about rivers ${run}`);
      const importButton = page.getByRole("button", { name: "Import" });
      await importButton.click();
      await expect(page.getByTestId("import-report").getByRole("status")).toContainText("Added 1 prompt");
      await expect(importButton).toBeDisabled();

      await page.goto("/admin/settings");
      await expect(page.getByLabel("Max new tokens (bytes for this model)")).toHaveValue(String(MAX_NEW));
      await expect(page.getByText("in bytes: the serving model (v0) reads and writes bytes")).toBeVisible();
      await expect(page.getByText("Samples only from the most likely next tokens that together make up this share")).toBeVisible();
      await expect(page.getByText("Share of battles that compare two answers of the serving model")).toBeVisible();
      await expect(page.getByLabel("Instructions for labelers")).toHaveValue(/continues the prompt better/);
    });
  });

/** A finished battle with two completions of the longest length an admin can set, next in line (overlap 2) for the phone labeler. */
async function plantLongBattle(author: string, text: string) {
  await withClient(async (db) => {
    const v = await db.query<{ id: number }>(`SELECT id FROM "PolicyVersion" WHERE status = 'SERVING'`);
    const user = await db.query<{ id: string }>(`SELECT id FROM "User" WHERE username = $1`, [author]);
    const promptId = `0long${run}`;
    const battleId = `0longb${run}`;
    await db.query(`INSERT INTO "Prompt" (id, text, source, "overlapTarget") VALUES ($1, $2, 'e2e', 2)`, [
      promptId,
      `long prompt ${run}: write at length about the nation`,
    ]);
    await db.query(
      `INSERT INTO "Battle" (id, "promptId", "labelerId", kind, status, "policyAId", "policyBId", "leaseExpiresAt") VALUES ($1, $2, $3, 'ON_POLICY', 'VOTED', $4, $4, now())`,
      [battleId, promptId, user.rows[0]!.id, v.rows[0]!.id],
    );
    for (const slot of ["A", "B"]) {
      await db.query(
        `INSERT INTO "Completion" (id, "battleId", slot, "promptId", "policyVersionId", text, "promptTokenIds", "tokenIds", temperature, "topP", "topK", "maxNewTokens", seed, "finishReason", "latencyMs")
         VALUES ($1, $2, $3::"Slot", $4, $5, $6, '{}', '{}', 1, 1, 0, 512, 1, 'boundary', 1)`,
        [`0long${slot}${run}`, battleId, slot, promptId, v.rows[0]!.id, text],
      );
    }
  });
}
