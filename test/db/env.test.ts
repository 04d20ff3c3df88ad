// Configuration validation, structured logs and password hashing: the operations basics.
import { afterEach, describe, expect, it } from "vitest";
import { hashPassword, verifyPassword } from "../../src/server/auth/password.ts";
import { EnvError, getEnv, parseEnv, resetEnvCache } from "../../src/server/env.ts";
import { createLogger } from "../../src/server/log.ts";

describe("parseEnv", () => {
  it("applies the documented defaults to an empty environment", () => {
    expect(parseEnv({})).toEqual({
      PORT: 3000,
      NODE_ENV: "development",
      LOG_LEVEL: "info",
      SESSION_TTL_HOURS: 168,
      SESSION_CACHE_SECONDS: 5,
      ADMIN_USERNAME: "admin",
      TF_BACKEND: "auto",
      CHECKPOINT_DIR: ".data/checkpoints",
      HOUSE_MODEL_DIR: "models/house",
      CHECKPOINT_KEEP_LAST: 5,
      TRAINER_ENABLED: true,
      SAMPLER_NICE: 10,
      EMBEDDED_PG_PORT: 54329,
      DATABASE_EMBEDDED: false,
      TRUSTED_PROXIES: 0,
    });
  });

  it("parses and coerces valid values; blank counts as unset", () => {
    const env = parseEnv({
      DATABASE_URL: "postgresql://u:p@db:5432/arena",
      PORT: "8080",
      TRAINER_ENABLED: "false",
      SESSION_TTL_HOURS: "24",
      TF_BACKEND: "wasm",
      LOG_LEVEL: "debug",
      ADMIN_PASSWORD: "   ",
    });
    expect(env).toMatchObject({
      DATABASE_URL: "postgresql://u:p@db:5432/arena",
      PORT: 8080,
      TRAINER_ENABLED: false,
      SESSION_TTL_HOURS: 24,
      TF_BACKEND: "wasm",
      LOG_LEVEL: "debug",
    });
    expect(env.ADMIN_PASSWORD).toBeUndefined();
  });

  it("lists every bad variable by name with what is wrong, in one error", () => {
    let err: unknown;
    try {
      parseEnv({
        PORT: "eighty",
        TF_BACKEND: "cuda",
        TRAINER_ENABLED: "maybe",
        DATABASE_URL: "mysql://secret@x/y",
        ADMIN_PASSWORD: "short",
        SESSION_TTL_HOURS: "-3",
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EnvError);
    const problems = (err as EnvError).problems;
    expect(problems.map((p) => p.split(":")[0]).sort()).toEqual(
      ["ADMIN_PASSWORD", "DATABASE_URL", "PORT", "SESSION_TTL_HOURS", "TF_BACKEND", "TRAINER_ENABLED"].sort(),
    );
    const message = (err as Error).message;
    expect(message).toContain("Invalid environment configuration");
    expect(message).toMatch(/PORT: must be a number.*"eighty"/);
    expect(message).toMatch(/TF_BACKEND: .*"auto".*"tensorflow".*"wasm".*"cpu"/);
    expect(message).toMatch(/DATABASE_URL: must be a postgresql:\/\/ connection URL/);
    expect(message).toMatch(/ADMIN_PASSWORD: must be at least 8 characters/);
    // secrets are named, never echoed
    expect(message).not.toContain("secret@x");
    expect(message).not.toContain("short");
  });
});

describe("getEnv", () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
    resetEnvCache();
  });

  it("reads process.env once and caches the result", () => {
    process.env.PORT = "4567";
    resetEnvCache();
    expect(getEnv().PORT).toBe(4567);
    process.env.PORT = "1111";
    expect(getEnv().PORT).toBe(4567);
  });

  it("throws the validation error lazily, on first use, not on import", () => {
    process.env.LOG_LEVEL = "loud";
    resetEnvCache();
    expect(() => getEnv()).toThrow(/LOG_LEVEL: .*"loud"/);
  });
});

describe("log", () => {
  it("writes one JSON line per call with time, level, msg, fields and child fields", () => {
    const lines: Array<[string, string]> = [];
    const logger = createLogger({ service: "web" }, (level, line) => lines.push([level, line])).child({ requestId: "r1" });
    logger.info("vote stored", { battleId: "b1", ms: 3 });
    logger.error("vote failed", { err: new Error("deadlock detected") });
    expect(lines).toHaveLength(2);
    const [info, error] = lines.map(([, l]) => JSON.parse(l));
    expect(info).toMatchObject({ level: "info", msg: "vote stored", service: "web", requestId: "r1", battleId: "b1", ms: 3 });
    expect(new Date(info.time).toString()).not.toBe("Invalid Date");
    expect(error.err.message).toBe("deadlock detected");
    expect(error.err.stack).toContain("env.test.ts");
    expect(lines.every(([, l]) => !l.includes("\n"))).toBe(true);
    logger.warn("real message", { level: "debug", msg: "forged" });
    expect(JSON.parse(lines[2]![1])).toMatchObject({ level: "warn", msg: "real message" });
  });

  it("drops messages below LOG_LEVEL and survives circular fields", () => {
    const saved = process.env.LOG_LEVEL;
    process.env.LOG_LEVEL = "warn";
    resetEnvCache();
    try {
      const lines: string[] = [];
      const logger = createLogger({}, (_level, line) => lines.push(line));
      logger.debug("d");
      logger.info("i");
      const loop: Record<string, unknown> = { a: 1 };
      loop.self = loop;
      logger.warn("w", { loop });
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0]!).loop).toEqual({ a: 1, self: "[circular]" });
    } finally {
      if (saved === undefined) delete process.env.LOG_LEVEL;
      else process.env.LOG_LEVEL = saved;
      resetEnvCache();
    }
  });
});

describe("password hashing", () => {
  it("uses argon2id with a random salt and verifies only the right password", async () => {
    const a = await hashPassword("hunter2 but longer");
    const b = await hashPassword("hunter2 but longer");
    expect(a).toMatch(/^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword(a, "hunter2 but longer")).toBe(true);
    expect(await verifyPassword(a, "hunter2 but longer ")).toBe(false);
    expect(await verifyPassword("not a hash", "anything")).toBe(false);
    await expect(hashPassword("")).rejects.toThrow(/must not be empty/);
  });
});
