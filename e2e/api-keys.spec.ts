// API keys in real Chromium and the OpenAI-compatible API through the real Next.js server:
// an admin creates a key (shown once), a program uses it (models, a chat completion streamed
// and not, a preference), the console shows the last use, and revoking it locks it out at once.
import { expect, test } from "@playwright/test";
import { signInAdmin } from "./admin.ts";

const base = process.env.E2E_BASE_URL!;
const name = `e2e app ${Date.now().toString(36)}`;

test("create a key in the console, use it on /v1, see its last use, revoke it", async ({ page }) => {
  await page.setViewportSize({ width: 1280, height: 900 });
  await signInAdmin(page);
  await page.goto("/admin/api-keys");
  await expect(page.getByRole("heading", { name: "API keys", level: 1 })).toBeVisible();
  await page.getByLabel("Name (who or what uses it)").fill(name);
  await page.getByRole("checkbox", { name: /^vote/ }).check();
  await page.getByRole("button", { name: "Create key" }).click();
  const key = (await page.getByTestId("new-api-key").textContent())!.trim();
  expect(key).toMatch(/^dpa_/);
  const row = page.getByTestId(`api-key-${name}`);
  await expect(row).toContainText("inference, vote");
  await expect(row).toContainText("last used never");
  await page.screenshot({ path: "docs/screenshots/admin-api-keys.png", fullPage: true });

  const auth = { authorization: `Bearer ${key}`, "content-type": "application/json" };
  const models = await fetch(`${base}/v1/models`, { headers: auth });
  expect(models.status).toBe(200);
  expect(((await models.json()) as { data: { id: string }[] }).data.map((m) => m.id)).toContain("policy");

  const chat = await fetch(`${base}/v1/chat/completions`, {
    method: "POST",
    headers: auth,
    body: JSON.stringify({ model: "policy", messages: [{ role: "user", content: "The President" }], n: 2, max_tokens: 12 }),
  });
  expect(chat.status).toBe(200);
  const body = (await chat.json()) as {
    choices: { completion_id: string; message: { content: string } }[];
    usage: { completion_tokens: number };
  };
  expect(body.choices).toHaveLength(2);
  expect(body.usage.completion_tokens).toBeGreaterThan(0);

  // streamed through Next.js: more than one content event, then [DONE]
  const stream = await fetch(`${base}/v1/chat/completions`, {
    method: "POST",
    headers: auth,
    body: JSON.stringify({ model: "policy", messages: [{ role: "user", content: "The Congress" }], max_tokens: 24, stream: true }),
  });
  expect(stream.headers.get("content-type")).toMatch(/text\/event-stream/);
  const events = (await stream.text()).split("\n\n").filter(Boolean);
  expect(events.at(-1)).toBe("data: [DONE]");
  expect(events.filter((e) => e.includes('"content":"') && !e.includes('"role"')).length).toBeGreaterThan(1);

  const pref = await fetch(`${base}/v1/preferences`, {
    method: "POST",
    headers: auth,
    body: JSON.stringify({ completion_a: body.choices[0]!.completion_id, completion_b: body.choices[1]!.completion_id, choice: "a" }),
  });
  expect(pref.status).toBe(201);

  await page.reload();
  await expect(row).not.toContainText("last used never");
  page.once("dialog", (d) => void d.accept());
  await row.getByRole("button", { name: "Revoke" }).click();
  await expect(row).toContainText("revoked");
  const after = await fetch(`${base}/v1/models`, { headers: auth });
  expect(after.status).toBe(401);
  expect(((await after.json()) as { error: { code: string } }).error.code).toBe("invalid_api_key");
});
