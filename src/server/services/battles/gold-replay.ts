// Streams a gold battle's fixed completions the way the sampler streams an on-policy battle (two
// sequences in one call): after the serving model's usual first-token delay, both slots grow
// together by about one token's worth of characters per step at its usual pace; when the longer
// one has ended, both slots' "done" (first-sampled slot first), then "ready". The pace comes from
// the last sampled completions, so a labeler cannot tell a gold pair by how it arrives.
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import type { GeneratedCompletion } from "../../sampler/protocol.ts";

export interface Pace {
  firstTokenMs: number;
  msPerToken: number;
  charsPerToken: number;
  finishReason: string;
}

/** Used until the serving model has sampled anything (a fresh install with only gold pairs). */
export const DEFAULT_PACE: Pace = { firstTokenMs: 150, msPerToken: 25, charsPerToken: 1, finishReason: "boundary" };

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Medians over the serving version's last 50 sampled (not gold) completions. */
export async function recentPace(db: PrismaClient, versionId: number): Promise<Pace> {
  const rows = await db.$queryRaw<{ first: number | null; latency: number; chars: number; tokens: number; reason: string }[]>`
    SELECT c."firstTokenMs" AS first, c."latencyMs" AS latency, length(c.text) AS chars,
           cardinality(c."tokenIds") AS tokens, c."finishReason" AS reason
      FROM "Completion" c JOIN "Battle" b ON b.id = c."battleId"
     WHERE c."policyVersionId" = ${versionId} AND b."goldPairId" IS NULL AND cardinality(c."tokenIds") > 0
     ORDER BY c."createdAt" DESC
     LIMIT 50`;
  if (rows.length === 0) return DEFAULT_PACE;
  const reasons = new Map<string, number>();
  for (const r of rows) reasons.set(r.reason, (reasons.get(r.reason) ?? 0) + 1);
  const first = median(rows.flatMap((r) => (r.first === null ? [] : [r.first])));
  return {
    firstTokenMs: first ?? DEFAULT_PACE.firstTokenMs,
    msPerToken: median(rows.map((r) => Math.max(0, r.latency - (r.first ?? 0)) / Math.max(1, r.tokens - 1)))!,
    charsPerToken: Math.max(1, Math.round(median(rows.map((r) => r.chars / r.tokens))!)),
    finishReason: [...reasons.entries()].sort((a, b) => b[1] - a[1])[0]![0],
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Replays `texts` into `onText(slot, from, append)` at `pace`; resolves with completion rows
 * shaped like the sampler's (no token ids: a gold pair never trains, and its texts may not even
 * come from this model's tokenizer). Rejects with the signal's reason when aborted.
 */
export async function replayGold(opts: {
  texts: { A: string; B: string };
  pace: Pace;
  signal: AbortSignal;
  onText: (slot: "A" | "B", from: number, append: string) => void;
  onDone: (slot: "A" | "B", text: string, finishReason: string) => void;
  /** the slot a sampled battle would finish first (its first sequence) */
  firstSlot: "A" | "B";
}): Promise<Record<"A" | "B", GeneratedCompletion>> {
  const { texts, pace, signal } = opts;
  const started = performance.now();
  const shown = { A: 0, B: 0 };
  const out: Partial<Record<"A" | "B", GeneratedCompletion>> = {};
  await sleep(pace.firstTokenMs, signal);
  const firstTokenMs = Math.round(performance.now() - started);
  for (let step = 0; !out.A || !out.B; step++) {
    if (step > 0) await sleep(pace.msPerToken, signal);
    for (const slot of ["A", "B"] as const) {
      if (out[slot]) continue;
      const text = texts[slot];
      if (shown[slot] < text.length) {
        const append = text.slice(shown[slot], shown[slot] + pace.charsPerToken);
        opts.onText(slot, shown[slot], append);
        shown[slot] += append.length;
      }
      if (shown[slot] >= text.length) {
        out[slot] = {
          text,
          promptTokenIds: [],
          tokenIds: [],
          logprob: 0,
          finishReason: pace.finishReason,
          firstTokenMs,
          latencyMs: Math.round(performance.now() - started),
        };
      }
    }
  }
  const both = out as Record<"A" | "B", GeneratedCompletion>;
  const order: ("A" | "B")[] = opts.firstSlot === "A" ? ["A", "B"] : ["B", "A"];
  for (const slot of order) opts.onDone(slot, both[slot].text, pace.finishReason);
  return both;
}
