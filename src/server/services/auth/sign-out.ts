import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { deleteSession } from "../../auth/session.ts";

/** Ends one browser's session; signing out twice is harmless. */
export async function signOut(options: { db: PrismaClient; token: string | null }): Promise<void> {
  if (options.token) await deleteSession({ db: options.db, token: options.token });
}
