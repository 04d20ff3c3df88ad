// Promotion (and rollback, which is promotion of an earlier version) is one transaction:
// demote the current SERVING version, promote the target, and NOTIFY — Postgres delivers the
// notification only when the transaction commits, so no listener can see a half-done swap.
// The partial unique index on PolicyVersion(status = SERVING) makes "two serving" impossible.
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { loopError } from "./errors.ts";

export { SERVING_CHANNEL } from "../../policy/channel.ts";

import { SERVING_CHANNEL } from "../../policy/channel.ts";

type Tx = Parameters<Parameters<PrismaClient["$transaction"]>[0]>[0];

export interface PromoteOptions {
  db: PrismaClient;
  versionId: number;
  /** Checks the checkpoint loads and matches its sha256 before anything changes. */
  verify?: (version: { id: number; name: string; checkpointUri: string; checkpointSha256: string }) => Promise<void>;
  /** Extra writes that must commit together with the promotion (e.g. the round's SUCCEEDED). */
  alsoInTransaction?: (tx: Tx) => Promise<void>;
  /** Allow promoting a REJECTED version (an admin overriding a gate). */
  allowRejected?: boolean;
  /**
   * Promote only if this version is still the serving one (a round's base): checked under the
   * promotion lock, so an admin's rollback during the round is never undone. On a mismatch
   * nothing changes and BaseNotServingError is thrown.
   */
  onlyIfServing?: number;
}

export class BaseNotServingError extends Error {
  constructor(readonly servingId: number | null) {
    super("the version this promotion was based on is no longer serving");
    this.name = "BaseNotServingError";
  }
}

export interface PromoteResult {
  versionId: number;
  name: string;
  previousId: number | null;
  changed: boolean;
}

export async function promoteVersion(opts: PromoteOptions): Promise<PromoteResult> {
  const { db, versionId } = opts;
  const target = await db.policyVersion.findUnique({
    where: { id: versionId },
    select: { id: true, name: true, status: true, checkpointUri: true, checkpointSha256: true },
  });
  if (!target) throw loopError("NOT_FOUND", `policy version ${versionId} does not exist`);
  if (target.status === "REJECTED" && !opts.allowRejected) {
    throw loopError("CONFLICT", `${target.name} was rejected by its round's gates; promote it explicitly with allowRejected to override`);
  }
  if (opts.verify) await opts.verify(target);

  return db.$transaction(async (tx) => {
    // Serialise concurrent promotions: whoever holds the lock decides from fresh data.
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('dpo-arena:promote'))`;
    const current = await tx.policyVersion.findFirst({ where: { status: "SERVING" }, select: { id: true } });
    if (opts.onlyIfServing !== undefined && current?.id !== opts.onlyIfServing) throw new BaseNotServingError(current?.id ?? null);
    if (current?.id === target.id) {
      if (opts.alsoInTransaction) await opts.alsoInTransaction(tx);
      return { versionId: target.id, name: target.name, previousId: current.id, changed: false };
    }
    if (current) await tx.policyVersion.update({ where: { id: current.id }, data: { status: "RETIRED" } });
    await tx.policyVersion.update({ where: { id: target.id }, data: { status: "SERVING", promotedAt: new Date() } });
    if (opts.alsoInTransaction) await opts.alsoInTransaction(tx);
    await tx.$executeRaw`SELECT pg_notify(${SERVING_CHANNEL}, ${String(target.id)})`;
    return { versionId: target.id, name: target.name, previousId: current?.id ?? null, changed: true };
  });
}

/**
 * Rollback: promote the version that served before the current one (the most recently
 * promoted RETIRED version), or an explicit earlier version.
 */
export async function rollbackVersion(opts: Omit<PromoteOptions, "versionId"> & { toVersionId?: number }): Promise<PromoteResult> {
  const { db } = opts;
  let toId = opts.toVersionId;
  if (toId === undefined) {
    const current = await db.policyVersion.findFirst({ where: { status: "SERVING" }, select: { id: true, promotedAt: true } });
    const previous = await db.policyVersion.findFirst({
      where: { status: "RETIRED", promotedAt: { not: null, ...(current?.promotedAt ? { lt: current.promotedAt } : {}) } },
      orderBy: { promotedAt: "desc" },
      select: { id: true },
    });
    if (!previous) throw loopError("CONFLICT", "there is no earlier serving version to roll back to");
    toId = previous.id;
  }
  return promoteVersion({ ...opts, versionId: toId });
}
