// A contestant's API key is stored encrypted (AES-256-GCM, node:crypto) with a key from the
// environment (CONTESTANT_SECRET_KEY), so a database dump or backup alone does not leak it.
// Layout: base64(iv 12 bytes | auth tag 16 bytes | ciphertext). GCM's tag makes a changed or
// wrongly-keyed ciphertext fail to decrypt instead of yielding a garbage key.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { AppError } from "../../errors.ts";

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** The 32-byte key from its environment form (64 hex characters or base64; env.ts validates it). */
export function parseSecretKey(value: string): Buffer {
  const key = /^[0-9a-fA-F]{64}$/.test(value) ? Buffer.from(value, "hex") : Buffer.from(value, "base64");
  if (key.length !== 32) throw new Error("CONTESTANT_SECRET_KEY must be 32 bytes (64 hex characters or base64)");
  return key;
}

export function missingSecretKey(): AppError {
  return new AppError("INVALID_REQUEST", {
    userMessage:
      "Cannot store this contestant's API key: CONTESTANT_SECRET_KEY is not set on the server, so the key could not be encrypted at rest. " +
      "Set it to 32 random bytes (`openssl rand -hex 32`) in the environment of every web process, or register the contestant without a key.",
  });
}

export function encryptApiKey(plain: string, key: Buffer): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64");
}

/** Throws when the ciphertext was changed or was encrypted with another key. */
export function decryptApiKey(stored: string, key: Buffer): string {
  const raw = Buffer.from(stored, "base64");
  if (raw.length < IV_BYTES + TAG_BYTES) throw new Error("the stored API key is truncated");
  const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, IV_BYTES));
  decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString("utf8");
  } catch {
    throw new Error(
      "the stored API key does not decrypt with CONTESTANT_SECRET_KEY (was the key changed?); register the contestant's key again",
    );
  }
}
