// Whether a prompt fits the serving model's context. A prompt that does not fails in every
// battle that draws it (the sampler needs room for at least one new token), so imports refuse
// it and assignment skips it (it stays in the pool for a model with a longer context).
//
// The rule is stated in bytes, not tokens: the house model is byte-level (one token per UTF-8
// byte plus BOS), where it is exact; subword tokenizers use at most one token per byte, so for
// them it is conservative. It needs no tokenizer in the web process and runs in SQL as well.
import type { PrismaClient } from "../../../generated/prisma/client.ts";

/** The context length (tokens) in a stored model config, whatever naming it uses. */
export function contextTokensOf(modelConfig: unknown): number | null {
  if (typeof modelConfig !== "object" || modelConfig === null) return null;
  const c = modelConfig as Record<string, unknown>;
  for (const key of ["nPositions", "n_positions", "max_position_embeddings", "n_ctx"]) {
    const v = c[key];
    if (typeof v === "number" && Number.isInteger(v) && v > 0) return v;
  }
  return null;
}

/** The most UTF-8 bytes a prompt may have: BOS + bytes + one new token must fit. */
export function maxPromptBytes(contextTokens: number): number {
  return contextTokens - 2;
}

export function promptBytes(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/** The serving version's limit, or null when nothing serves or its config does not say. */
export async function servingPromptLimit(db: PrismaClient): Promise<{ versionName: string; maxBytes: number } | null> {
  const serving = await db.policyVersion.findFirst({ where: { status: "SERVING" }, select: { name: true, modelConfig: true } });
  const ctx = contextTokensOf(serving?.modelConfig);
  return serving && ctx ? { versionName: serving.name, maxBytes: maxPromptBytes(ctx) } : null;
}
