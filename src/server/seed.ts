// What a first run needs: an admin, the starter prompt pool, default settings and the house
// model registered as v0. Safe to run on every start: it only adds what is missing.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { PrismaClient } from "../generated/prisma/client.ts";
import { hashPassword } from "./auth/password.ts";
import { getEnv } from "./env.ts";
import { DirectoryCheckpointStore } from "./policy/checkpoint-store.ts";
import { sha256File } from "./policy/digest.ts";
import { arenaSettingsSchema, poolOverlapTarget, samplingSettingsSchema } from "./services/arena-settings/index.ts";
import { syncHouseModel } from "./services/models/house.ts";
import { copyToStore, type PreparedModel, prepareModelDir, rootVersionData } from "./services/models/register.ts";
import { loopSettingsSchema } from "./services/rounds/settings.ts";

export { sha256File };

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
  /** where the house model is copied to (default CHECKPOINT_DIR) */
  checkpointDir?: string;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export interface SeedResult {
  admin: { username: string; created: boolean; generatedPassword?: string };
  promptsAdded: number;
  settingsAdded: number;
  houseModel: { registered: boolean; reason: string; versionId?: number; versionName?: string };
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
  const store = new DirectoryCheckpointStore(path.resolve(opts.checkpointDir ?? env.CHECKPOINT_DIR));
  // A writer that crashed mid-copy left a hidden staging directory; nothing else will delete it.
  const leftovers = await store
    .cleanLeftovers()
    .catch((err: Error) => (log("could not clean checkpoint leftovers", { error: err.message }), []));
  if (leftovers.length > 0) log("removed unfinished checkpoint copies left by crashed writers", { removed: leftovers });
  let house = await readHouseModel(houseModelDir);
  // The first start validates the house model like an import and copies it into the store, so
  // later changes to HOUSE_MODEL_DIR can never change v0's files under its recorded sha256.
  let houseCopy: { prepared: PreparedModel; uri: string } | null = null;
  if (house.ok && (await db.policyVersion.count()) === 0) {
    try {
      const prepared = await prepareModelDir({ db, store, dir: houseModelDir, validate: { backend: env.TF_BACKEND, inWorker: true } });
      houseCopy = { prepared, uri: await copyToStore(store, prepared, `house-${prepared.digest.slice(0, 12)}`) };
    } catch (err) {
      house = { ok: false, reason: `house model at ${houseModelDir} is not usable: ${(err as Error).message}` };
    }
  }

  const result = await db.$transaction(
    async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(${SEED_LOCK_KEY})`;

      const existingAdmin = await tx.user.findUnique({ where: { username: adminUsername }, select: { id: true } });
      if (!existingAdmin) {
        passwordHash ??= await hashPassword(presetPassword ?? generatedPassword!);
        await tx.user.create({ data: { username: adminUsername, passwordHash, role: "ADMIN" } });
        log("created admin account", { username: adminUsername, passwordFrom: presetPassword ? "ADMIN_PASSWORD" : "generated" });
      }

      const known = new Set((await tx.prompt.findMany({ where: { source: "seed" }, select: { text: true } })).map((p) => p.text));
      const missing = prompts.filter((p) => !known.has(p.text));
      if (missing.length > 0) {
        // A share of the starter pool goes to two labelers, so agreement fills in from the start
        // (under the stored settings when an admin already changed them).
        const stored = await tx.setting.findUnique({ where: { key: "arena" }, select: { value: true } });
        const arena = arenaSettingsSchema.safeParse(stored?.value ?? {}).data ?? arenaSettingsSchema.parse({});
        await tx.prompt.createMany({
          data: missing.map((p) => ({ text: p.text, heldOut: p.heldOut, source: "seed", overlapTarget: poolOverlapTarget(p.text, arena) })),
        });
        log("added seed prompts", { count: missing.length, heldOut: missing.filter((p) => p.heldOut).length });
      }

      const settings = await tx.setting.createMany({
        data: Object.entries(DEFAULT_SETTINGS).map(([key, value]) => ({ key, value: value as object })),
        skipDuplicates: true,
      });

      let houseModel: SeedResult["houseModel"];
      if ((await tx.policyVersion.count()) > 0) {
        houseModel = { registered: false, reason: "policy versions already exist" };
      } else if (!house.ok || !houseCopy) {
        const reason = house.ok ? "house model was not prepared" : house.reason;
        houseModel = { registered: false, reason };
        log("house model not registered yet; it will be on the next start once it exists", { reason });
      } else {
        const v0 = await tx.policyVersion.create({
          data: rootVersionData(houseCopy.prepared, {
            name: "v0",
            uri: houseCopy.uri,
            displayName: "house model",
            source: "HOUSE",
            status: "SERVING",
            notes: `house model shipped with the repository (HOUSE_MODEL_DIR ${houseModelDir})`,
          }),
        });
        houseModel = { registered: true, reason: "registered v0 as SERVING", versionId: v0.id, versionName: v0.name };
        log("registered house model as v0", { checkpoint: v0.checkpointUri, sha256: v0.checkpointSha256 });
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

  if (houseCopy && !result.houseModel.registered) {
    // Another process registered first. Its v0 may be this very copy (same digest, same key).
    const used = await db.policyVersion.count({ where: { checkpointUri: houseCopy.uri } });
    if (used === 0) await store.remove(houseCopy.uri).catch(() => {});
  }
  if (!houseCopy && result.houseModel.reason === "policy versions already exist" && house.ok) {
    const sync = await syncHouseModel({ db, store, dir: houseModelDir, log });
    if (sync.action === "registered")
      result.houseModel = { registered: true, reason: sync.reason, versionId: sync.versionId, versionName: sync.versionName };
    else if (sync.action === "none") result.houseModel = { registered: false, reason: sync.reason };
  }
  return result;
}

type HouseModel = { ok: true } | { ok: false; reason: string };

async function readHouseModel(dir: string): Promise<HouseModel> {
  const weights = path.join(dir, "model.safetensors");
  const configFile = path.join(dir, "config.json");
  if (!existsSync(weights) || !existsSync(configFile)) {
    return { ok: false, reason: `no house model at ${dir} (needs config.json and model.safetensors)` };
  }
  try {
    JSON.parse(readFileSync(configFile, "utf8"));
  } catch (err) {
    return { ok: false, reason: `house model config ${configFile} is not valid JSON: ${(err as Error).message}` };
  }
  return { ok: true };
}
