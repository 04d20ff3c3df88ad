// The labeler-quality page in real Chromium: the reliability table and ε on the stored votes,
// gold-pair import with its report, the gold list and deactivation; marking a finished battle as
// gold, a labeler answering it in the arena like any battle, and the gold accuracy it earns.
import { type APIRequestContext, expect, test } from "@playwright/test";
import { signInAdmin } from "./admin.ts";
import { insertDecisiveVotes, withClient } from "./db.ts";

const run = Date.now().toString(36);

/** A tRPC mutation as the browser client makes it (superjson envelope), with the page's session. */
async function trpc(request: APIRequestContext, path: string, input: unknown) {
  const res = await request.post(`/api/trpc/${path}`, { data: { json: input }, headers: { "content-type": "application/json" } });
  if (!res.ok()) throw new Error(`${path} → ${res.status()}: ${await res.text()}`);
}

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

test("an admin marks a finished battle as gold, a labeler answers it like any battle, the labelers page shows gold accuracy", async ({
  page,
  browser,
}) => {
  test.setTimeout(300_000);
  const tag = `gold-${run}`;
  const [voteId] = await insertDecisiveVotes(1, tag);
  const battleId = voteId!.replace("e2e-vote-", "e2e-battle-");
  // Only this test's gold pair may be served, and often (the largest gold rate).
  await withClient((db) => db.query(`UPDATE "GoldPair" SET active = false`));
  await page.setViewportSize({ width: 1280, height: 900 });
  await signInAdmin(page);
  const labeler = `goldlabeler${run}`;
  await trpc(page.request, "users.createLabeler", { username: labeler, password: "labeler-pass-123" });
  await trpc(page.request, "arena.updateSettings", { sampling: { maxNewTokens: 12 }, arena: { goldRate: 0.5, onPolicyShare: 1 } });

  await page.goto("/admin/quality");
  const item = page.locator(`[data-battle-id="${battleId}"]`);
  await item.getByLabel("Right answer").selectOption("TIE");
  await item.getByRole("button", { name: "Mark as gold" }).click();
  await expect(item.getByRole("status")).toHaveText("Marked as gold");
  const gold = page
    .getByTestId("gold-list")
    .getByRole("listitem")
    .filter({ hasText: `battle:${battleId}` });
  await expect(gold).toContainText("Expected: tie");

  // The labeler votes until the gold pair comes up (half of the battles at this rate).
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const arena = await context.newPage();
  await arena.goto("/login");
  await arena.getByLabel("Username").fill(labeler);
  await arena.getByLabel("Password").fill("labeler-pass-123");
  await arena.getByRole("button", { name: "Sign in" }).click();
  await expect(arena).toHaveURL(/\/arena$/);
  const goldPrompt = await withClient(async (db) => {
    const res = await db.query<{ text: string }>(`SELECT p.text FROM "Prompt" p JOIN "Battle" b ON b."promptId" = p.id WHERE b.id = $1`, [
      battleId,
    ]);
    return res.rows[0]!.text;
  });
  let served = false;
  let ordinaryReveal: string | null = null;
  for (let i = 0; i < 16 && !served; i++) {
    await expect(arena.getByRole("button", { name: /A is better/ })).toBeEnabled({ timeout: 90_000 });
    const id = await arena.getByTestId("arena-prompt").getAttribute("data-battle-id");
    const isGold = ((await arena.getByTestId("arena-prompt").textContent()) ?? "").includes(goldPrompt);
    // No visible difference: the same controls, statuses and layout as any battle.
    await expect(arena.getByTestId("vote-bar").getByRole("button")).toHaveCount(5);
    await arena.getByRole("button", { name: isGold ? "Tie" : "A is better" }).click();
    await expect(arena.getByTestId("arena-prompt")).not.toHaveAttribute("data-battle-id", id ?? "");
    const reveal = (await arena.getByTestId("reveal-versions").textContent()) ?? "";
    if (isGold) {
      served = true;
      expect(reveal).toMatch(/Both answers came from the current model \(v\d+\)/);
      if (ordinaryReveal !== null) expect(reveal).toBe(ordinaryReveal);
    } else ordinaryReveal = reveal;
  }
  expect(served).toBe(true);
  await context.close();

  await page.goto("/admin/labelers");
  await expect(page.getByTestId(`labeler-${labeler}`).getByTestId("gold-accuracy")).toHaveText("100% of 1");
  // Leave the arena as the other specs expect it: no gold pairs served.
  await withClient((db) => db.query(`UPDATE "GoldPair" SET active = false`));
  await trpc(page.request, "arena.updateSettings", { arena: { goldRate: 0.05 } });
});
