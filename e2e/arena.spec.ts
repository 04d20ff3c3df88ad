// The labeler's arena in real Chromium against the real server and the house model.
import { type APIRequestContext, expect, type Page, test } from "@playwright/test";
import pg from "pg";
import { withClient } from "./db.ts";

const adminUsername = process.env.E2E_ADMIN_USERNAME ?? "admin";
const adminPassword = process.env.E2E_ADMIN_PASSWORD ?? "";
const PASSWORD = "labeler-pass-123";
const run = Date.now().toString(36);
const name = (who: string) => `${who}${run}`;

/** A tRPC call as the browser client makes it (superjson envelope, JSON content type). */
async function trpc(request: APIRequestContext, path: string, input: unknown, kind: "mutation" | "query" = "mutation") {
  const res =
    kind === "mutation"
      ? await request.post(`/api/trpc/${path}`, { data: { json: input }, headers: { "content-type": "application/json" } })
      : await request.get(`/api/trpc/${path}?input=${encodeURIComponent(JSON.stringify({ json: input }))}`);
  const body = (await res.json()) as { result?: { data: { json: unknown } }; error?: { json: { message: string } } };
  if (!res.ok()) throw new Error(`${path} → ${res.status()}: ${body.error?.json.message ?? JSON.stringify(body)}`);
  return body.result!.data.json;
}

async function signInUi(page: Page, username: string, password: string) {
  await page.goto("/login");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

async function waitForVoteOpen(page: Page) {
  await expect(page.getByRole("button", { name: /A is better/ })).toBeEnabled({ timeout: 90_000 });
}

async function currentBattleId(page: Page): Promise<string> {
  const id = await page.getByTestId("arena-prompt").getAttribute("data-battle-id");
  if (!id) throw new Error("no battle is shown");
  return id;
}

const votedByFirst: string[] = [];

test.describe
  .serial("arena", () => {
    test.beforeAll(async ({ request }) => {
      await trpc(request, "auth.signIn", { username: adminUsername, password: adminPassword });
      // Short completions keep the browser tests quick; they still stream token by token.
      await trpc(request, "arena.updateSettings", {
        sampling: { maxNewTokens: 12, temperature: 1 },
        arena: { overlapTarget: 1, onPolicyShare: 1 },
      });
      for (const who of ["keys", "second", "tabs", "xss", "phone"])
        await trpc(request, "users.createLabeler", { username: name(who), password: PASSWORD });
    });

    test("a labeler votes ten battles using only the keyboard, skips one, and sees the reveal and their stats", async ({ page }) => {
      test.setTimeout(240_000);
      await signInUi(page, name("keys"), PASSWORD);
      await expect(page).toHaveURL(/\/arena$/);
      const keys = ["1", "2", "3", "4", "ArrowLeft", "ArrowRight", "ArrowDown", "ArrowUp", "1", "2"];
      for (const key of keys) {
        await waitForVoteOpen(page);
        const id = await currentBattleId(page);
        votedByFirst.push((await page.getByTestId("arena-prompt").textContent()) ?? "");
        await expect(page.getByTestId("completion-A")).not.toBeEmpty();
        await page.keyboard.press(key);
        await expect(page.getByTestId("arena-prompt")).not.toHaveAttribute("data-battle-id", id);
      }
      await expect(page.getByTestId("reveal")).toContainText("B is better");
      // on-policy battles (share 1): both sides are the serving version, said in plain words
      await expect(page.getByTestId("reveal-versions")).toContainText(/Both answers came from the current model \(v\d+\)/);
      await expect(page.getByTestId("votes-total")).toHaveText("10");
      await expect(page.getByTestId("votes-today")).toHaveText("10");

      const skipped = await currentBattleId(page);
      await page.keyboard.press("s");
      await expect(page.getByTestId("arena-prompt")).not.toHaveAttribute("data-battle-id", skipped);
      await expect(page.getByTestId("reveal")).toContainText("Skipped");
      await expect(page.getByTestId("skipped")).toHaveText("1");
      await expect(page.getByTestId("votes-total")).toHaveText("10");
      await waitForVoteOpen(page);
      // the instructions a first-time labeler sees stay open without blocking the keys above
      await page.getByTestId("instructions").getByRole("button", { name: "Got it" }).click();
      await page.screenshot({ path: "docs/screenshots/arena.png", fullPage: true });
    });

    test("a second labeler never receives the first one's voted prompts of overlap target 1, and does receive those of overlap 2", async ({
      playwright,
      baseURL,
    }) => {
      // ~400 requests: the whole pool, assigned and skipped one by one.
      test.setTimeout(300_000);
      expect(votedByFirst).toHaveLength(10);
      const request = await playwright.request.newContext({ baseURL });
      await trpc(request, "auth.signIn", { username: name("second"), password: PASSWORD });
      // Walk the whole pool through the API (assign, skip) without sampling anything.
      const seen: string[] = [];
      for (let i = 0; i < 400; i++) {
        const r = (await trpc(request, "arena.next", { excludeBattleIds: [] })) as {
          status: string;
          battle?: { battleId: string; promptText: string };
        };
        if (r.status !== "battle") break;
        seen.push(r.battle!.promptText);
        await trpc(request, "arena.skip", { battleId: r.battle!.battleId });
      }
      expect(seen.length).toBeGreaterThan(100);
      expect(new Set(seen).size).toBe(seen.length);
      // A share of the starter pool (the agreement share) is judged by two labelers.
      const overlap = await withClient(async (db) => {
        const rows = await db.query<{ text: string; overlapTarget: number }>(
          `SELECT text, "overlapTarget" FROM "Prompt" WHERE text = ANY($1)`,
          [votedByFirst],
        );
        return new Map(rows.rows.map((r) => [r.text, r.overlapTarget]));
      });
      for (const prompt of votedByFirst) {
        if (overlap.get(prompt) === 1) expect(seen).not.toContain(prompt);
        else expect(seen).toContain(prompt);
      }
      await request.dispose();
    });

    test("double-submitting a vote (two tabs, a replayed request) stores one vote", async ({ browser }) => {
      test.setTimeout(180_000);
      const context = await browser.newContext();
      const tab1 = await context.newPage();
      await signInUi(tab1, name("tabs"), PASSWORD);
      await expect(tab1).toHaveURL(/\/arena$/);
      const tab2 = await context.newPage();
      await tab2.goto("/arena");
      await waitForVoteOpen(tab1);
      await waitForVoteOpen(tab2);
      const id = await currentBattleId(tab1);
      expect(await currentBattleId(tab2)).toBe(id);

      const voteRequest = tab1.waitForRequest((r) => r.url().includes("arena.vote"));
      await tab1.keyboard.press("1");
      const sent = await voteRequest;
      await expect(tab1.getByTestId("reveal-versions")).toBeVisible();
      await tab2.keyboard.press("2");
      // The second tab is told the vote that stands (A), not shown a failure.
      await expect(tab2.getByTestId("reveal")).toContainText("A is better");
      await expect(tab2.getByTestId("reveal").getByRole("alert")).toHaveCount(0);

      // Replaying the first tab's request verbatim returns the same vote.
      const replay = await context.request.post(sent.url(), {
        data: sent.postData() ?? "",
        headers: { "content-type": "application/json" },
      });
      expect(replay.status()).toBe(200);
      const replayText = await replay.text();
      expect(replayText).toContain('"replayed":true');
      const stats = (await trpc(context.request, "arena.myStats", {}, "query")) as { votesTotal: number };
      expect(stats.votesTotal).toBe(1);
      await context.close();
    });

    test("a completion containing <script> is shown as text", async ({ page, request }) => {
      test.setTimeout(180_000);
      const payload = `<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">`;
      await plantCompletions(payload);
      await signInUi(page, name("xss"), PASSWORD);
      await expect(page.getByTestId("arena-prompt")).toContainText("planted prompt", { timeout: 30_000 });
      await waitForVoteOpen(page);
      await expect(page.getByTestId("completion-A")).toHaveText(payload);
      await expect(page.getByTestId("completion-B")).toContainText("<script>");
      await expect(page.locator("[data-testid=completion-A] script, [data-testid=completion-A] img")).toHaveCount(0);
      expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
      void request;
    });

    test("the arena works at phone width", async ({ page }) => {
      test.setTimeout(180_000);
      await page.setViewportSize({ width: 375, height: 740 });
      await signInUi(page, name("phone"), PASSWORD);
      await waitForVoteOpen(page);
      await expect(page.getByRole("region", { name: "Completion A" })).toBeVisible();
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      // (first-hour.spec.ts takes the phone screenshot, with max-length completions)
      await page.getByRole("button", { name: /B is better/ }).click();
      await expect(page.getByTestId("reveal")).toContainText("B is better");
    });

    test("admin screenshots after the labelers' work", async ({ page }) => {
      await page.setViewportSize({ width: 1280, height: 900 });
      await signInUi(page, adminUsername, adminPassword);
      await expect(page).toHaveURL(/\/admin$/);
      await page.goto("/admin/labelers");
      await expect(page.getByTestId(`labeler-${name("keys")}`)).toContainText("10");
      await expect(page.getByRole("img", { name: /Votes per day/ })).toBeVisible();
      await page.screenshot({ path: "docs/screenshots/admin-labelers.png", fullPage: true });
    });
  });

/**
 * The house model will not write `<script>` on request, so this plants a finished battle whose
 * completions contain markup; the arena hands the next labeler the same pair (overlap target 2).
 * run.ts names the app's database in E2E_DATABASE_URL; without it, the e2e database holding this
 * run's labelers is looked up on the server.
 */
async function plantCompletions(text: string) {
  const candidates: string[] = [];
  if (process.env.E2E_DATABASE_URL) candidates.push(process.env.E2E_DATABASE_URL);
  else {
    const server = process.env.DATABASE_URL || "postgresql://postgres@127.0.0.1:5432/postgres";
    const admin = new pg.Client({ connectionString: server });
    await admin.connect();
    const dbs = (await admin.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'dpo_e2e_%' ORDER BY oid DESC`))
      .rows;
    await admin.end();
    for (const { datname } of dbs) {
      const url = new URL(server);
      url.pathname = `/${datname}`;
      candidates.push(url.toString());
    }
  }
  for (const url of candidates) {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const mine = await client.query(`SELECT 1 FROM "User" WHERE username = $1`, [name("xss")]);
      if (mine.rowCount === 0) continue;
      const v = await client.query<{ id: number }>(`SELECT id FROM "PolicyVersion" WHERE status = 'SERVING'`);
      const author = await client.query<{ id: string }>(`SELECT id FROM "User" WHERE username = $1`, [name("keys")]);
      const promptId = `planted${run}`;
      const battleId = `plantedb${run}`;
      await client.query(`INSERT INTO "Prompt" (id, text, source, "overlapTarget") VALUES ($1, $2, 'e2e', 2)`, [
        promptId,
        `planted prompt ${run}`,
      ]);
      await client.query(
        `INSERT INTO "Battle" (id, "promptId", "labelerId", kind, status, "policyAId", "policyBId", "leaseExpiresAt") VALUES ($1, $2, $3, 'ON_POLICY', 'VOTED', $4, $4, now())`,
        [battleId, promptId, author.rows[0]!.id, v.rows[0]!.id],
      );
      for (const [slot, t] of [
        ["A", text],
        ["B", `</div><script>alert(1)</script> ${text}`],
      ]) {
        await client.query(
          `INSERT INTO "Completion" (id, "battleId", slot, "promptId", "policyVersionId", text, "promptTokenIds", "tokenIds", temperature, "topP", "topK", "maxNewTokens", seed, "finishReason", "latencyMs")
           VALUES ($1, $2, $3::"Slot", $4, $5, $6, '{}', '{}', 1, 1, 0, 12, 1, 'length', 1)`,
          [`planted${slot}${run}`, battleId, slot, promptId, v.rows[0]!.id, t],
        );
      }
      return;
    } finally {
      await client.end();
    }
  }
  throw new Error("could not find the e2e database holding this run's labelers");
}
