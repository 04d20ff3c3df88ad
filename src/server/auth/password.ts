// argon2id with the library's defaults (m=19456 KiB, t=2, p=1: the OWASP minimum), encoded as
// a PHC string so parameters can be raised later without invalidating stored hashes.
import { hash, verify } from "@node-rs/argon2";

// Algorithm.Argon2id; the package declares Algorithm as an ambient const enum, which cannot be
// imported under isolatedModules. The test checks the resulting hash says $argon2id$.
const ARGON2ID = 2;

export async function hashPassword(password: string): Promise<string> {
  if (password.length === 0) throw new Error("hashPassword: password must not be empty");
  return hash(password, { algorithm: ARGON2ID });
}

/** False for a wrong password or a malformed stored hash (never throws on bad input). */
export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}
