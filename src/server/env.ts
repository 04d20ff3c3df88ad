// The one place that reads process.env. Validated lazily on first use (not at import) so that
// `next build`, which imports server modules without a runtime environment, does not fail.
import { z } from "zod";

const booleanString = z
  .enum(["true", "false", "1", "0", "yes", "no"], { message: "must be true or false" })
  .transform((v) => v === "true" || v === "1" || v === "yes");

const postgresUrl = z.string().refine((v) => /^postgres(ql)?:\/\//.test(v), {
  message: "must be a postgresql:// connection URL, e.g. postgresql://user:pass@host:5432/db",
});

const positiveInt = (what: string) =>
  z.coerce
    .number({ message: `must be a number (${what})` })
    .int(`must be a whole number (${what})`)
    .positive(`must be > 0 (${what})`);

export const envSchema = z.object({
  /** Required by anything that talks to Postgres; `npm start` sets it for the embedded server. */
  DATABASE_URL: postgresUrl.optional(),
  PORT: positiveInt("TCP port").max(65535, "must be ≤ 65535").default(3000),
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  SESSION_TTL_HOURS: positiveInt("hours").default(168),
  /** How long a web process trusts a looked-up session before reading it again (0 = always read). */
  SESSION_CACHE_SECONDS: z.coerce
    .number({ message: "must be a number (seconds)" })
    .int("must be a whole number")
    .min(0, "must be ≥ 0")
    .max(300, "must be ≤ 300")
    .default(5),
  ADMIN_USERNAME: z
    .string()
    .regex(/^[a-zA-Z0-9_.-]{3,32}$/, "must be 3-32 characters of letters, digits, _ . -")
    .default("admin"),
  /** When unset, the first seed generates a password and prints it once. */
  ADMIN_PASSWORD: z.string().min(8, "must be at least 8 characters").optional(),
  TF_BACKEND: z.enum(["auto", "tensorflow", "wasm", "cpu"]).default("auto"),
  CHECKPOINT_DIR: z.string().min(1).default(".data/checkpoints"),
  HOUSE_MODEL_DIR: z.string().min(1).default("models/house"),
  /** Checkpoints kept besides the serving lineage, every version that ever served and imports (see README "Disk and checkpoints"). */
  CHECKPOINT_KEEP_LAST: z.coerce
    .number({ message: "must be a number (checkpoints)" })
    .int("must be a whole number")
    .min(1, "must be ≥ 1")
    .default(5),
  TRAINER_ENABLED: booleanString.default(true),
  /** Sampler threads in the web process (default: one per core beyond the first, at most 2). */
  SAMPLER_THREADS: positiveInt("threads").max(16, "must be ≤ 16").optional(),
  /** nice value of the sampler threads, 0–19: higher leaves more CPU to the requests (votes). */
  SAMPLER_NICE: z.coerce
    .number({ message: "must be a number (nice value)" })
    .int("must be a whole number")
    .min(0, "must be ≥ 0")
    .max(19, "must be ≤ 19")
    .default(10),
  /** Set by `npm start` for its children when DATABASE_URL points at its embedded PostgreSQL (health reports that part). */
  DATABASE_EMBEDDED: booleanString.default(false),
  /** Port of the embedded PostgreSQL that `npm start` runs when DATABASE_URL is unset. */
  EMBEDDED_PG_PORT: positiveInt("TCP port").max(65535, "must be ≤ 65535").default(54329),
  /**
   * Reverse proxies in front of the web server that append to X-Forwarded-For (0: exposed
   * directly). The client address used by the sign-in limits is read that far from the right.
   */
  /**
   * Address the web server listens on (`npm start`). Default: 127.0.0.1 when TRUSTED_PROXIES > 0
   * (only the proxy should reach it), else all interfaces.
   */
  HOST: z
    .string()
    .regex(/^[A-Za-z0-9.:_-]{1,255}$/, "must be a host name or IP address")
    .optional(),
  /**
   * Encrypts external contestants' API keys at rest (AES-256-GCM): 32 random bytes as 64 hex
   * characters or base64 (`openssl rand -hex 32`). Unset: contestants without a key still work,
   * and registering one with a key is refused.
   */
  CONTESTANT_SECRET_KEY: z
    .string()
    .refine((v) => /^[0-9a-fA-F]{64}$/.test(v) || (/^[A-Za-z0-9+/]{43}=?$/.test(v) && Buffer.from(v, "base64").length === 32), {
      message: "must be 32 random bytes as 64 hex characters or base64 (e.g. the output of `openssl rand -hex 32`)",
    })
    .optional(),
  TRUSTED_PROXIES: z.coerce
    .number({ message: "must be a number (proxies)" })
    .int("must be a whole number")
    .min(0, "must be ≥ 0")
    .max(10, "must be ≤ 10")
    .default(0),
});

export type Env = z.infer<typeof envSchema>;

export class EnvError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `Invalid environment configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}\nFix these variables (see README "Configuration") and start again.`,
    );
    this.name = "EnvError";
  }
}

/** Pure parser (used by getEnv and by tests). Empty strings count as unset. */
export function parseEnv(source: Record<string, string | undefined>): Env {
  const cleaned: Record<string, string> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const v = source[key];
    if (v !== undefined && v.trim() !== "") cleaned[key] = v.trim();
  }
  const result = envSchema.safeParse(cleaned);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const name = issue.path.join(".") || "(environment)";
      // Never echo secrets back in an error message.
      const shown =
        name === "ADMIN_PASSWORD" || name === "DATABASE_URL" || name === "CONTESTANT_SECRET_KEY"
          ? ""
          : ` (got ${JSON.stringify(cleaned[name] ?? null)})`;
      return `${name}: ${issue.message}${shown}`;
    });
    throw new EnvError(problems);
  }
  return result.data;
}

let cached: Env | undefined;

export function getEnv(): Env {
  cached ??= parseEnv(process.env);
  return cached;
}

/** Where `npm start` binds the web server (see HOST); undefined: Next.js's default, every interface. */
export function listenHost(env: Env): string | undefined {
  return env.HOST ?? (env.TRUSTED_PROXIES > 0 ? "127.0.0.1" : undefined);
}

/** DATABASE_URL, or a clear error for processes that cannot work without it. */
export function requireDatabaseUrl(): string {
  const url = getEnv().DATABASE_URL;
  if (!url) {
    throw new EnvError([
      "DATABASE_URL: is not set. Set it to a postgresql:// URL, or run `npm start`, which starts an embedded PostgreSQL and sets it",
    ]);
  }
  return url;
}

/** Tests change process.env between cases; production code never calls this. */
export function resetEnvCache(): void {
  cached = undefined;
}
