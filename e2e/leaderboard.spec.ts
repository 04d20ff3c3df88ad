// The leaderboard in real Chromium: voted battles planted in the app's database, the ranked
// table, heat map and charts, the admin's visibility switch, phone width, and an export.
import { createHash } from "node:crypto";
import { expect, type Page, test } from "@playwright/test";
import pg from "pg";

const adminUsername = process.env.E2E_ADMIN_USERNAME ?? "admin";
const adminPassword = process.env.E2E_ADMIN_PASSWORD ?? "";
const run = Date.now().toString(36);
// Three versions, strongest last; names unique to this run.
const [weak, mid, strong] = [1, 2, 3].map((i) => `v9${i}${run.slice(-3)}`);

async function signIn(page: Page) {
  await page.goto("/login");
  await page.getByLabel("Username").fill(adminUsername);
  await page.getByLabel("Password").fill(adminPassword);
  await page.getByRole("button", { name: "Sign in" }).click();
  // argon2 verification on a machine shared with training runs can take well over the default 15 s.
  await expect(page).toHaveURL(/\/admin$/, { timeout: 45_000 });
}

/**
 * run.ts does not pass the app's database URL on; the app's database is the one holding the
 * session this browser just signed in with (only its sha256 is stored).
 */
async function appDatabase(sessionToken: string): Promise<pg.Client> {
  const server = process.env.E2E_DATABASE_URL || process.env.DATABASE_URL || "postgresql://postgres@127.0.0.1:5432/postgres";
  if (process.env.E2E_DATABASE_URL) {
    const c = new pg.Client({ connectionString: server });
    await c.connect();
    return c;
  }
  const sessionId = createHash("sha256").update(sessionToken).digest("hex");
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  const names = (
    await admin.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'dpo_e2e_%' ORDER BY oid DESC`)
  ).rows.map((r) => r.datname);
  await admin.end();
  for (const name of names) {
    const url = new URL(server);
    url.pathname = `/${name}`;
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    const found = await client.query(`SELECT 1 FROM "Session" WHERE id = $1`, [sessionId]).catch(() => ({ rowCount: 0 }));
    if (found.rowCount) return client;
    await client.end();
  }
  throw new Error("could not find the e2e app's database (no dpo_e2e_* database holds this browser's session)");
}

/** strong beats mid 3:1, mid beats weak 3:1, strong beats weak 4:0, one tie, one self-battle. */
async function plantVotes(client: pg.Client) {
  const ids: Record<string, number> = {};
  for (const name of [weak, mid, strong]) {
    const r = await client.query<{ id: number }>(
      `INSERT INTO "PolicyVersion"(name, "checkpointUri", "checkpointSha256", status) VALUES ($1, 'file:/none', $2, 'RETIRED') RETURNING id`,
      [name, "0".repeat(64)],
    );
    ids[name] = r.rows[0]!.id;
  }
  const labeler = (await client.query<{ id: string }>(`SELECT id FROM "User" WHERE username = $1`, [adminUsername])).rows[0]!.id;
  const plan: [string, string, string, number][] = [
    [strong, mid, "A", 3],
    [mid, strong, "A", 1],
    [mid, weak, "A", 3],
    [weak, mid, "A", 1],
    [weak, strong, "B", 4],
    [mid, strong, "TIE", 1],
    [strong, strong, "A", 1],
  ];
  let k = 0;
  for (const [a, b, choice, times] of plan) {
    for (let i = 0; i < times; i++, k++) {
      const battleId = `lbb${run}${k}`;
      // A prompt per battle: one labeler judges each prompt once (a unique key since issue 16).
      await client.query(`INSERT INTO "Prompt"(id, text, source) VALUES ($1, 'leaderboard e2e prompt', 'e2e')`, [`lbp${run}${k}`]);
      await client.query(
        `INSERT INTO "Battle"(id, "promptId", "labelerId", kind, status, "policyAId", "policyBId", "leaseExpiresAt", "createdAt")
         VALUES ($1, $2, $3, $4::"BattleKind", 'VOTED', $5, $6, now(), now())`,
        [battleId, `lbp${run}${k}`, labeler, a === b ? "ON_POLICY" : "VERSUS", ids[a], ids[b]],
      );
      await client.query(
        `INSERT INTO "Vote"(id, "battleId", "labelerId", choice, "msToVote", "idempotencyKey", "createdAt") VALUES ($1, $2, $3, $4::"VoteChoice", 900, $1, now())`,
        [`lbv${run}${k}`, battleId, labeler, choice],
      );
    }
  }
}

test("the leaderboard ranks planted versions, honours the visibility setting, and works at phone width", async ({ page, browser }) => {
  test.setTimeout(150_000);
  await signIn(page);
  const cookie = (await page.context().cookies()).find((c) => c.name === "dpo_session");
  expect(cookie, "the sign-in set a session cookie").toBeTruthy();
  const client = await appDatabase(cookie!.value);
  try {
    await plantVotes(client);
  } finally {
    await client.end();
  }

  // Anonymous visitors are sent to sign in while the board is for signed-in users only.
  const anonymous = await (await browser.newContext()).newPage();
  await anonymous.goto("/leaderboard");
  await expect(anonymous).toHaveURL(/\/login\?reason=signin&next=%2Fleaderboard$/);
  await expect(anonymous.getByTestId("login-reason")).toContainText("the leaderboard");

  await page.getByRole("link", { name: "Leaderboard" }).click();
  await expect(page.getByRole("heading", { name: "Leaderboard", level: 1 })).toBeVisible();
  // A cached board from before the planted votes refreshes itself within seconds.
  const table = page.getByTestId("leaderboard-table");
  await expect(table.getByTestId(`leaderboard-row-${weak}`)).toBeVisible({ timeout: 30_000 });
  const order = await table
    .locator("tbody tr")
    .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-testid")!.replace("leaderboard-row-", "")));
  const ours = order.filter((m) => [weak, mid, strong].includes(m));
  expect(ours).toEqual([strong, mid, weak]);
  await expect(table.getByTestId(`leaderboard-row-${strong}`)).toContainText("7 / 1 / 1");
  await expect(page.getByTestId("leaderboard-summary")).toContainText("self-battles");
  await expect(page.getByTestId("win-heat-map")).toContainText(strong);
  await expect(page.getByRole("img", { name: /95% bootstrap interval/ })).toBeVisible();
  await expect(page.getByRole("img", { name: /as battles accumulated/ })).toBeVisible();

  // The admin makes it public; the anonymous visitor now sees the same ranking.
  await page.getByLabel("Who can see this page").selectOption("public");
  await expect(page.getByRole("status")).toContainText("now public");
  await anonymous.goto("/leaderboard");
  await expect(anonymous.getByTestId(`leaderboard-row-${strong}`)).toBeVisible();
  await expect(anonymous.getByRole("link", { name: "Sign in" })).toBeVisible();
  await expect(anonymous.getByText("Export battles")).toHaveCount(0);

  // Phone width: the page does not scroll sideways (wide tables scroll inside their card).
  await anonymous.setViewportSize({ width: 360, height: 740 });
  await anonymous.reload();
  await expect(anonymous.getByTestId(`leaderboard-row-${strong}`)).toBeAttached();
  expect(await anonymous.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);

  // The admin's clean_battle export holds the planted votes; anonymous gets 401.
  const exported = await page.request.get("/api/export/battles");
  expect(exported.status()).toBe(200);
  const lines = (await exported.text())
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { model_a: string; model_b: string; winner: string; anony: boolean });
  expect(lines.filter((l) => l.model_a === strong && l.model_b === mid && l.winner === "model_a")).toHaveLength(3);
  expect(lines.every((l) => l.anony === true)).toBe(true);
  expect((await anonymous.request.get("/api/export/battles")).status()).toBe(401);
});
