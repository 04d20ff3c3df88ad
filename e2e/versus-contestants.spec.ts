// Named to run after first-hour.spec.ts (Playwright runs spec files in name order, one worker):
// its contestant battles are rated on the leaderboard for good, and the first-hour spec checks
// what a fresh install's leaderboard says before anything is rated.
// External contestants (issue 17) in real Chromium: a second dpo-arena (test/contestants/
// instance.ts: its own process, port and database) is registered in the console as the
// contestant of the server under test; a labeler votes battles against it in the arena, the
// leaderboard rates it; stopping the second instance shows it unreachable and the arena keeps
// serving. Settings are restored and the contestant removed afterwards, for the other specs.
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { type APIRequestContext, expect, type Page, test } from "@playwright/test";
import { adminPassword, adminUsername, signInAdmin } from "./admin.ts";

const run = Date.now().toString(36);
const contestantName = `arena-two-${run}`;
const labeler = `contest${run}`;
const PASSWORD = "labeler-pass-123";

async function trpc(request: APIRequestContext, procedure: string, input: unknown, kind: "mutation" | "query" = "mutation") {
  const res =
    kind === "mutation"
      ? await request.post(`/api/trpc/${procedure}`, { data: { json: input }, headers: { "content-type": "application/json" } })
      : await request.get(`/api/trpc/${procedure}?input=${encodeURIComponent(JSON.stringify({ json: input }))}`);
  const body = (await res.json()) as { result?: { data: { json: unknown } }; error?: { json: { message: string } } };
  if (!res.ok()) throw new Error(`${procedure} → ${res.status()}: ${body.error?.json.message ?? JSON.stringify(body)}`);
  return body.result!.data.json;
}

let second: { child: ChildProcess; baseUrl: string; key: string; exited: Promise<number | null> };
let savedArena: Record<string, unknown> = {};

async function startSecondInstance() {
  const root = path.resolve(import.meta.dirname, "..");
  const child = spawn(path.join(root, "node_modules/.bin/tsx"), [path.join(root, "test/contestants/instance.ts")], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  let out = "";
  const ready = await new Promise<{ baseUrl: string; key: string }>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n").find((l) => l.startsWith('{"baseUrl"'));
      if (line) resolve(JSON.parse(line));
    });
    child.on("exit", (code) => reject(new Error(`the second instance exited (${code}) before serving: ${out}`)));
  });
  return { child, exited, ...ready };
}

async function voteOnce(page: Page, key: string) {
  await expect(page.getByRole("button", { name: /A is better/ })).toBeEnabled({ timeout: 90_000 });
  const id = await page.getByTestId("arena-prompt").getAttribute("data-battle-id");
  await expect(page.getByTestId("completion-A")).not.toBeEmpty();
  await expect(page.getByTestId("completion-B")).not.toBeEmpty();
  await page.keyboard.press(key);
  await expect(page.getByTestId("arena-prompt")).not.toHaveAttribute("data-battle-id", id ?? "");
}

test.describe
  .serial("external contestants", () => {
    test.beforeAll(async ({ request }) => {
      test.setTimeout(180_000);
      second = await startSecondInstance();
      await trpc(request, "auth.signIn", { username: adminUsername, password: adminPassword });
      const settings = (await trpc(request, "arena.settings", undefined, "query")) as { arena: Record<string, unknown> };
      savedArena = { onPolicyShare: settings.arena.onPolicyShare, contestantShare: settings.arena.contestantShare };
      await trpc(request, "arena.updateSettings", { sampling: { maxNewTokens: 24 }, arena: { onPolicyShare: 0, contestantShare: 1 } });
      await trpc(request, "users.createLabeler", { username: labeler, password: PASSWORD });
    });

    test.afterAll(async ({ request }) => {
      if (second && second.child.exitCode === null) {
        second.child.kill("SIGTERM");
        await second.exited;
      }
      await trpc(request, "auth.signIn", { username: adminUsername, password: adminPassword });
      await trpc(request, "arena.updateSettings", { arena: savedArena });
      const list = (await trpc(request, "contestants.list", undefined, "query")) as { id: number; name: string }[];
      const mine = list.find((c) => c.name === contestantName);
      if (mine) await trpc(request, "contestants.remove", { id: mine.id });
    });

    test("an admin registers another arena; a labeler votes against it unaware; the leaderboard rates it", async ({ page, browser }) => {
      test.setTimeout(300_000);
      await page.setViewportSize({ width: 1280, height: 900 });
      await signInAdmin(page);
      await page.goto("/admin/contestants");
      await expect(page.getByRole("heading", { name: "External contestants", level: 1 })).toBeVisible();
      await page.getByLabel("Name (its leaderboard entry)").fill("v9");
      await page.getByLabel("Base URL").fill(second.baseUrl);
      await page.getByLabel("Model").fill("policy");
      await page.getByRole("button", { name: "Register" }).click();
      await expect(page.getByText(/policy versions' names/)).toBeVisible();
      await page.getByLabel("Name (its leaderboard entry)").fill(contestantName);
      await page.getByLabel("API key (optional)").fill(second.key);
      await page.getByRole("button", { name: "Register" }).click();
      const row = page.getByTestId(`contestant-${contestantName}`);
      await expect(row).toContainText("key stored encrypted");
      await expect(row.getByTestId("contestant-status")).toHaveText("unknown");
      await expect(page.locator("body")).not.toContainText(second.key);
      await row.getByRole("button", { name: "Check now" }).click();
      await expect(row.getByTestId("contestant-status")).toHaveText("ok");

      const labelerPage = await (await browser.newContext()).newPage();
      await labelerPage.goto("/login");
      await labelerPage.getByLabel("Username").fill(labeler);
      await labelerPage.getByLabel("Password").fill(PASSWORD);
      await labelerPage.getByRole("button", { name: "Sign in" }).click();
      await expect(labelerPage).toHaveURL(/\/arena$/);
      // Battles against the contestant, except an overlap copy of a pair earlier specs left on an
      // overlap-2 prompt (copies keep their own kind): count the reveals that name it.
      const reveals: string[] = [];
      for (const key of ["1", "2", "1", "2", "1", "2"]) {
        await voteOnce(labelerPage, key);
        reveals.push((await labelerPage.getByTestId("reveal-versions").textContent()) ?? "");
      }
      const againstIt = reveals.filter((r) => r.includes(contestantName));
      expect(againstIt.length).toBeGreaterThanOrEqual(4);
      for (const r of againstIt) expect(r).toContain("external model");

      await page.reload();
      await expect(row).toContainText(new RegExp(`\\d+ battles, ${againstIt.length} voted`)); // the arena prefetches the next battle
      await page.goto("/leaderboard");
      await expect(async () => {
        await page.reload();
        await expect(page.getByTestId(`leaderboard-row-${contestantName}`)).toBeVisible({ timeout: 2_000 });
      }).toPass({ timeout: 60_000 });
      await expect(page.getByTestId(`version-row-${contestantName}`)).toContainText("External contestant");

      // The second instance stops: the next battle still comes (from the serving model), and
      // the console says the contestant is unreachable and why.
      second.child.kill("SIGTERM");
      expect(await second.exited).toBe(0);
      // (battles prefetched before the stop may already hold both answers)
      await page.goto("/admin/contestants");
      for (let i = 0; i < 4 && (await row.getByTestId("contestant-status").textContent()) !== "unreachable"; i++) {
        await voteOnce(labelerPage, i % 2 ? "2" : "1");
        await page.reload();
        await expect(row).toBeVisible();
      }
      await expect(row.getByTestId("contestant-status")).toHaveText("unreachable");
      await expect(row.getByTestId("contestant-last-error")).toContainText("cannot reach");
      await page.screenshot({ path: "docs/screenshots/admin-contestants.png", fullPage: true });
    });
  });
