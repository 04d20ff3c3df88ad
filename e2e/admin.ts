// The admin account the e2e runner seeds (e2e/run.ts passes its credentials), and signing in
// as it through the real login page.
import { expect, type Page } from "@playwright/test";

export const adminUsername = process.env.E2E_ADMIN_USERNAME ?? "admin";
export const adminPassword = process.env.E2E_ADMIN_PASSWORD ?? "";

/** Signs in on /login and waits for the admin console. */
export async function signInAdmin(page: Page): Promise<void> {
  await page.goto("/login");
  await page.getByLabel("Username").fill(adminUsername);
  await page.getByLabel("Password").fill(adminPassword);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/admin$/);
}
