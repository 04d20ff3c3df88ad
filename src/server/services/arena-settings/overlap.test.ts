import { describe, expect, it } from "vitest";
import { arenaSettingsSchema, poolOverlapTarget } from "./index.ts";

const texts = Array.from({ length: 2000 }, (_, i) => `Prompt number ${i} about the sea`);

describe("pool overlap target", () => {
  it("gives about the agreement share of new prompts to two labelers by default, the same ones every time", () => {
    const arena = arenaSettingsSchema.parse({});
    expect(arena.agreementShare).toBe(0.2);
    const targets = texts.map((t) => poolOverlapTarget(t, arena));
    const two = targets.filter((x) => x === 2).length / texts.length;
    expect(two).toBeGreaterThan(0.17);
    expect(two).toBeLessThan(0.23);
    expect(targets.every((x) => x === 1 || x === 2)).toBe(true);
    expect(texts.map((t) => poolOverlapTarget(t, arena))).toEqual(targets);
  });

  it("leaves the admin's choice alone: share 0 means overlap 1, and a default of 2 or more applies to all", () => {
    expect(texts.every((t) => poolOverlapTarget(t, { overlapTarget: 1, agreementShare: 0 }) === 1)).toBe(true);
    expect(texts.every((t) => poolOverlapTarget(t, { overlapTarget: 3, agreementShare: 0.2 }) === 3)).toBe(true);
    expect(texts.every((t) => poolOverlapTarget(t, { overlapTarget: 1, agreementShare: 1 }) === 2)).toBe(true);
  });

  it("an installation's stored arena row without the new keys reads the defaults; stored values are kept", () => {
    const old = arenaSettingsSchema.parse({ onPolicyShare: 0.5, battleLeaseMinutes: 30, overlapTarget: 1 });
    expect(old).toMatchObject({ onPolicyShare: 0.5, agreementShare: 0.2 });
    expect(arenaSettingsSchema.parse({ overlapTarget: 1, agreementShare: 0 }).agreementShare).toBe(0);
  });
});
