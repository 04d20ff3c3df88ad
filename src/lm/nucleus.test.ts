import { describe, expect, it } from "vitest";
import { nucleus } from "./nucleus.ts";

/** The definition: sort the whole row (stable, descending), top-k, then the top-p walk. */
function reference(logits: Float32Array, tau: number, topK?: number, topP?: number) {
  const V = logits.length;
  let mx = -Infinity;
  for (const l of logits) mx = Math.max(mx, l);
  let order = Array.from({ length: V }, (_, i) => i).sort((a, b) => logits[b] - logits[a]);
  if (topK && topK > 0) order = order.slice(0, topK);
  const w = order.map((i) => Math.exp((logits[i] - mx) / tau));
  if (topP !== undefined && topP < 1) {
    const total = w.reduce((a, b) => a + b, 0);
    let acc = 0;
    let keep = 0;
    while (keep < w.length) {
      acc += w[keep++] / total;
      if (acc >= topP) break;
    }
    order = order.slice(0, keep);
  }
  return order;
}

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe("nucleus", () => {
  it("keeps exactly the tokens a full stable sort keeps, over shapes, temperatures, k, p and ties", () => {
    const r = rng(7);
    let cases = 0;
    for (const V of [1, 2, 5, 64, 1000, 4096]) {
      for (const spread of [0.1, 1, 4, 12]) {
        // rounding to a grid makes ties common
        const row = Float32Array.from({ length: V }, () => Math.round((r() - 0.5) * spread * 8) / 8);
        for (const tau of [0.3, 0.7, 1, 2]) {
          for (const topK of [undefined, 0, 1, 3, 40, V - 1, V]) {
            for (const topP of [undefined, 0.01, 0.5, 0.9, 0.95, 0.999, 1]) {
              const got = nucleus(row, tau, topK, topP);
              expect(got.ids, `V ${V} spread ${spread} tau ${tau} k ${topK} p ${topP}`).toEqual(reference(row, tau, topK, topP));
              cases++;
            }
          }
        }
      }
    }
    expect(cases).toBe(6 * 4 * 4 * 7 * 7);
  });

  it("returns the tempered weights of the kept tokens", () => {
    const row = Float32Array.from([0, Math.log(3), Math.log(2), -5]);
    const n = nucleus(row, 1, undefined, 0.8);
    expect(n.ids).toEqual([1, 2]);
    expect(n.weights).toEqual([expect.closeTo(1, 6), expect.closeTo(2 / 3, 6)]);
  });

  it("a flat 49k row at high temperature (the slow case) still matches", () => {
    const r = rng(3);
    const row = Float32Array.from({ length: 49_152 }, () => r() * 0.5);
    expect(nucleus(row, 2, undefined, 0.9).ids).toEqual(reference(row, 2, undefined, 0.9));
    expect(nucleus(row, 1, 50, 0.9).ids).toEqual(reference(row, 1, 50, 0.9));
  });

  it("refuses a temperature that is not positive", () => {
    expect(() => nucleus(Float32Array.from([0, 1]), 0, 1)).toThrow(/temperature must be > 0/);
  });
});
