// What a first run needs: an admin, the starter prompt pool, default settings and the house
// model registered as v0. Safe to run on every start: it only adds what is missing.
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { PrismaClient } from "../generated/prisma/client.ts";
import { hashPassword } from "./auth/password.ts";
import { getEnv } from "./env.ts";
import { arenaSettingsSchema, poolOverlapTarget, samplingSettingsSchema } from "./services/arena-settings/index.ts";
import { loopSettingsSchema } from "./services/rounds/settings.ts";

/** Two processes starting together must not both create the admin or the prompt pool. */
const SEED_LOCK_KEY = 72707370;

export const DEFAULT_PROMPTS_FILE = path.resolve(import.meta.dirname, "../../prisma/seed/prompts.txt");

/**
 * Initial values of the admin-editable settings. Existing rows are never overwritten, so an
 * admin's change survives restarts; the services that read them validate them with zod.
 */
export const DEFAULT_SETTINGS: Record<string, unknown> = {
  // Every row comes from its service's schema, so there is one place for the defaults.
  sampling: samplingSettingsSchema.parse({}),
  arena: arenaSettingsSchema.parse({}),
  ...loopSettingsSchema.parse({}),
};

export interface SeedOptions {
  adminUsername?: string;
  /** When absent, a password is generated for a newly created admin and returned once. */
  adminPassword?: string;
  promptsFile?: string;
  houseModelDir?: string;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export interface SeedResult {
  admin: { username: string; created: boolean; generatedPassword?: string };
  promptsAdded: number;
  settingsAdded: number;
  houseModel: { registered: boolean; reason: string; versionId?: number };
}

export interface SeedPrompt {
  text: string;
  heldOut: boolean;
}

/** Parses prompts.txt: `#` comments, blank lines ignored; prompts after `## held-out` are held out. */
export function parsePromptFile(content: string): SeedPrompt[] {
  const prompts: SeedPrompt[] = [];
  const seen = new Set<string>();
  let heldOut = false;
  for (const raw of content.split(/\r?\n/)) {
    const line = raw.trimEnd();
    if (/^##\s*held-out\s*$/i.test(line)) {
      heldOut = true;
      continue;
    }
    if (line.trim() === "" || line.startsWith("#")) continue;
    if (seen.has(line)) continue;
    seen.add(line);
    prompts.push({ text: line, heldOut });
  }
  return prompts;
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

function generatePassword(): string {
  return randomBytes(15).toString("base64url");
}

export async function seed(db: PrismaClient, opts: SeedOptions = {}): Promise<SeedResult> {
  const env = getEnv();
  const adminUsername = opts.adminUsername ?? env.ADMIN_USERNAME;
  const presetPassword = opts.adminPassword ?? env.ADMIN_PASSWORD;
  const promptsFile = opts.promptsFile ?? DEFAULT_PROMPTS_FILE;
  const houseModelDir = path.resolve(opts.houseModelDir ?? env.HOUSE_MODEL_DIR);
  const log = opts.log ?? (() => {});

  if (!existsSync(promptsFile)) throw new Error(`Seed prompt file not found: ${promptsFile}`);
  const prompts = parsePromptFile(readFileSync(promptsFile, "utf8"));

  // Work that is slow or touches files happens before the transaction, to keep it short.
  const generatedPassword = presetPassword ? undefined : generatePassword();
  const adminExists = (await db.user.count({ where: { username: adminUsername } })) > 0;
  let passwordHash = adminExists ? undefined : await hashPassword(presetPassword ?? generatedPassword!);
  const house = await readHouseModel(houseModelDir);

  return db.$transaction(
    async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(${SEED_LOCK_KEY})`;

      const existingAdmin = await tx.user.findUnique({ where: { username: adminUsername }, select: { id: true } });
      if (!existingAdmin) {
        passwordHash ??= await hashPassword(presetPassword ?? generatedPassword!);
        await tx.user.create({ data: { username: adminUsername, passwordHash, role: "ADMIN" } });
        log("created admin account", { username: adminUsername, passwordFrom: presetPassword ? "ADMIN_PASSWORD" : "generated" });
      }

      const known = new Set(
        (await tx.prompt.findMany({ where: { source: "seed" }, select: { text: true } })).map((p) => p.text),
      );
      const missing = prompts.filter((p) => !known.has(p.text));
      if (missing.length > 0) {
        // A share of the starter pool goes to two labelers, so agreement fills in from the start
        // (under the stored settings when an admin already changed them).
        const stored = await tx.setting.findUnique({ where: { key: "arena" }, select: { value: true } });
        const arena = arenaSettingsSchema.safeParse(stored?.value ?? {}).data ?? arenaSettingsSchema.parse({});
        await tx.prompt.createMany({ data: missing.map((p) => ({ text: p.text, heldOut: p.heldOut, source: "seed", overlapTarget: poolOverlapTarget(p.text, arena) })) });
        log("added seed prompts", { count: missing.length, heldOut: missing.filter((p) => p.heldOut).length });
      }

      const settings = await tx.setting.createMany({
        data: Object.entries(DEFAULT_SETTINGS).map(([key, value]) => ({ key, value: value as object })),
        skipDuplicates: true,
      });

      let houseModel: SeedResult["houseModel"];
      if ((await tx.policyVersion.count()) > 0) {
        houseModel = { registered: false, reason: "policy versions already exist" };
      } else if (!house.ok) {
        houseModel = { registered: false, reason: house.reason };
        log("house model not registered yet; it will be on the next start once it exists", { reason: house.reason });
      } else {
        const v0 = await tx.policyVersion.create({
          data: {
            name: "v0",
            checkpointUri: "file:" + houseModelDir,
            checkpointSha256: house.sha256,
            status: "SERVING",
            modelConfig: house.config as object,
            notes: "house model shipped with the repository",
            promotedAt: new Date(),
          },
        });
        houseModel = { registered: true, reason: "registered v0 as SERVING", versionId: v0.id };
        log("registered house model as v0", { checkpoint: v0.checkpointUri, sha256: house.sha256 });
      }

      return {
        admin: { username: adminUsername, created: !existingAdmin, generatedPassword: existingAdmin ? undefined : generatedPassword },
        promptsAdded: missing.length,
        settingsAdded: settings.count,
        houseModel,
      };
    },
    { timeout: 60_000, maxWait: 60_000 },
  );
}

type HouseModel = { ok: true; sha256: string; config: unknown } | { ok: false; reason: string };

async function readHouseModel(dir: string): Promise<HouseModel> {
  const weights = path.join(dir, "model.safetensors");
  const configFile = path.join(dir, "config.json");
  if (!existsSync(weights) || !existsSync(configFile)) {
    return { ok: false, reason: `no house model at ${dir} (needs config.json and model.safetensors)` };
  }
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(configFile, "utf8"));
  } catch (err) {
    return { ok: false, reason: `house model config ${configFile} is not valid JSON: ${(err as Error).message}` };
  }
  return { ok: true, sha256: await sha256File(weights), config };
}

