// The sim's set-up of a product, over its admin API as an admin would do it: the prompts it
// imports (in chunks, each retried), the seed pool it switches off, and the labeler accounts it
// creates for the synthetic labelers.
import { randomBytes } from "node:crypto";
import type { ProductClient } from "../client.ts";
import type { LabelerAccount } from "../driver.ts";
import type { LabelerProfile } from "../labeler.ts";

const IMPORT_CHUNK = 2000;

/**
 * Imports `texts` as plain-text prompts with overlap target 1; returns how many the pool gained.
 * In chunks, each retried: one 30,000-line request outlived the client's timeout on a loaded
 * machine. A retry is safe because the import skips texts the pool already has; the ones a
 * timed-out attempt did store come back as duplicates and still count.
 */
export async function importPrompts(
  admin: ProductClient,
  texts: string[],
  opts: { promptSet: string; what: string; log: (msg: string) => void },
): Promise<number> {
  const { promptSet, what, log } = opts;
  let imported = 0;
  for (let i = 0; i < texts.length; i += IMPORT_CHUNK) {
    const content = texts.slice(i, i + IMPORT_CHUNK).join("\n");
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await admin.mutation<{ added: number; duplicates: number }>("prompts.import", {
          content,
          filename: `sim-${promptSet}-${what}.txt`,
          format: "text",
          overlapTarget: 1,
        });
        imported += r.added + (attempt > 0 ? r.duplicates : 0);
        break;
      } catch (err) {
        if (attempt >= 2) throw err;
        log(`prompt import (${what}) failed, retrying: ${(err as Error).message}`);
      }
    }
  }
  if (texts.length) log(`imported ${imported} ${promptSet} prompts (${what})`);
  return imported;
}

/** Switches off every enabled served prompt (the seed's pool) over the admin API; returns how many. */
export async function disableServedPool(admin: ProductClient): Promise<number> {
  type Page = { total: number; prompts: { id: string; heldOut: boolean }[] };
  const served: string[] = [];
  for (let page = 0; ; page++) {
    const rows = await admin.query<Page>("prompts.list", { status: "enabled", page, pageSize: 200 });
    served.push(...rows.prompts.filter((p) => !p.heldOut).map((p) => p.id));
    if (rows.prompts.length < 200) break;
  }
  for (const promptId of served) await admin.mutation("prompts.setEnabled", { promptId, enabled: false });
  return served.length;
}

/** One labeler account per profile, with a fresh name and password (a run never reuses another's labelers). */
export async function createLabelers(admin: ProductClient, profiles: LabelerProfile[]): Promise<LabelerAccount[]> {
  const tag = randomBytes(3).toString("hex");
  const accounts: LabelerAccount[] = [];
  for (const [i, profile] of profiles.entries()) {
    const account = { username: `sim-${tag}-${i}`, password: `pw-${randomBytes(9).toString("base64url")}`, profile };
    await admin.mutation("users.createLabeler", { username: account.username, password: account.password });
    accounts.push(account);
  }
  return accounts;
}
