import { expect, type Page, test } from "@playwright/test";

const adminUsername = process.env.E2E_ADMIN_USERNAME ?? "admin";
const adminPassword = process.env.E2E_ADMIN_PASSWORD ?? "";

async function signIn(page: Page, username: string, password: string) {
  await page.goto("/login");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

async function signOut(page: Page) {
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login$/);
}

test("admin creates a labeler; the labeler signs in, sees the arena, and cannot open admin", async ({ page }) => {
  const labeler = `e2e${Date.now().toString(36)}`;
  const labelerPassword = "labeler-pass-123";

  await page.goto("/");
  await expect(page).toHaveURL(/\/login$/);

  await signIn(page, adminUsername, adminPassword);
  await expect(page).toHaveURL(/\/admin$/);
  await expect(page.getByTestId("current-user")).toContainText(adminUsername);
  await expect(page.getByTestId("current-user")).toContainText("admin");

  // A field-level validation message comes back for a too-short password.
  await page.getByLabel("Username", { exact: true }).fill(labeler);
  await page.getByLabel("Initial password").fill("short");
  await page.getByRole("button", { name: "Create" }).click();
  await expect(page.getByText("At least 8 characters", { exact: true })).toBeVisible();

  await page.getByLabel("Initial password").fill(labelerPassword);
  await page.getByRole("button", { name: "Create" }).click();
  await expect(page.getByRole("status")).toContainText(`Created labeler ${labeler}`);
  await expect(page.getByTestId(`user-row-${labeler}`)).toContainText("active");

  await signOut(page);

  await signIn(page, labeler, labelerPassword);
  await expect(page).toHaveURL(/\/arena$/);
  await expect(page.getByRole("heading", { name: "Arena", level: 1 })).toBeVisible();
  await expect(page.getByTestId("arena-prompt")).not.toBeEmpty();
  await expect(page.getByRole("region", { name: "Completion A" })).toBeVisible();
  await expect(page.getByRole("region", { name: "Completion B" })).toBeVisible();
  await expect(page.getByTestId("current-user")).toContainText(labeler);
  await expect(page.getByRole("link", { name: "Admin" })).toHaveCount(0);

  const adminResponse = await page.goto("/admin");
  expect(adminResponse?.status()).toBe(403);
  await expect(page.getByRole("heading", { name: "Admins only" })).toBeVisible();
  await expect(page.getByText("Create a labeler")).toHaveCount(0);

  await page.goto("/arena");
  await signOut(page);
  await page.goto("/arena");
  await expect(page).toHaveURL(/\/login\?reason=signin&next=%2Farena$/);
});

test("a wrong password shows an error and no session", async ({ page }) => {
  await signIn(page, adminUsername, "definitely-wrong");
  await expect(page.getByRole("alert").filter({ hasText: "Wrong username or password." })).toBeVisible();
  await page.goto("/admin");
  await expect(page).toHaveURL(/\/login\?reason=signin$/);
});

test("the health endpoint reports the database", async ({ request }) => {
  const res = await request.get("/api/health");
  expect(res.status()).toBe(200);
  const body = await res.json();
  expect(body).toMatchObject({ status: "ok", database: { ok: true } });
  expect(res.headers()["cache-control"]).toContain("no-store");
  expect(res.headers()["x-frame-options"]).toBe("DENY");
});

test("the sign-in page works at phone width", async ({ page }) => {
  await page.setViewportSize({ width: 360, height: 740 });
  await page.goto("/login");
  const button = page.getByRole("button", { name: "Sign in" });
  await expect(button).toBeVisible();
  const box = await button.boundingBox();
  expect(box && box.x >= 0 && box.x + box.width <= 360).toBe(true);
  // No horizontal scrolling.
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
});

test("disabling a labeler ends their session at once", async ({ browser }) => {
  const adminPage = await (await browser.newContext()).newPage();
  const labelerPage = await (await browser.newContext()).newPage();
  const labeler = `dis${Date.now().toString(36)}`;

  await signIn(adminPage, adminUsername, adminPassword);
  await expect(adminPage).toHaveURL(/\/admin$/);
  await adminPage.getByLabel("Username", { exact: true }).fill(labeler);
  await adminPage.getByLabel("Initial password").fill("labeler-pass-123");
  await adminPage.getByRole("button", { name: "Create" }).click();
  const row = adminPage.getByTestId(`user-row-${labeler}`);
  await expect(row).toContainText("active");

  await signIn(labelerPage, labeler, "labeler-pass-123");
  await expect(labelerPage).toHaveURL(/\/arena$/);

  await row.getByRole("button", { name: "Disable" }).click();
  await expect(row).toContainText("disabled");

  await labelerPage.reload();
  // the page's own 401 handling may get there first, without the reason
  await expect(labelerPage).toHaveURL(/\/login(\?reason=expired&next=%2Farena)?$/);
  await signIn(labelerPage, labeler, "labeler-pass-123");
  await expect(labelerPage.getByRole("alert").filter({ hasText: "disabled" })).toBeVisible();

  await row.getByRole("button", { name: "Enable" }).click();
  await expect(row).toContainText("active");
  await signIn(labelerPage, labeler, "labeler-pass-123");
  await expect(labelerPage).toHaveURL(/\/arena$/);
});
