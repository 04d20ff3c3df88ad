import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { decryptApiKey, encryptApiKey, parseSecretKey } from "./secret.ts";

describe("contestant API keys at rest (AES-256-GCM)", () => {
  const key = randomBytes(32);

  it("round-trips, and never stores the key in clear or twice the same way", () => {
    const a = encryptApiKey("sk-live-abc123", key);
    const b = encryptApiKey("sk-live-abc123", key);
    expect(a).not.toContain("sk-live");
    expect(Buffer.from(a, "base64").toString("latin1")).not.toContain("sk-live");
    expect(a).not.toBe(b); // a fresh IV each time
    expect(decryptApiKey(a, key)).toBe("sk-live-abc123");
    expect(decryptApiKey(b, key)).toBe("sk-live-abc123");
  });

  it("refuses a changed ciphertext and a different key instead of returning garbage", () => {
    const stored = encryptApiKey("sk-live-abc123", key);
    const raw = Buffer.from(stored, "base64");
    raw[raw.length - 1]! ^= 1;
    expect(() => decryptApiKey(raw.toString("base64"), key)).toThrow(/does not decrypt with CONTESTANT_SECRET_KEY/);
    expect(() => decryptApiKey(stored, randomBytes(32))).toThrow(/does not decrypt/);
    expect(() => decryptApiKey("AAAA", key)).toThrow(/truncated/);
  });

  it("reads the environment's key as hex or base64, and only at 32 bytes", () => {
    expect(parseSecretKey(key.toString("hex")).equals(key)).toBe(true);
    expect(parseSecretKey(key.toString("base64")).equals(key)).toBe(true);
    expect(() => parseSecretKey(randomBytes(16).toString("base64"))).toThrow(/32 bytes/);
  });
});
