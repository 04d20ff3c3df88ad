// The loop's one configuration schema: the form fields generated from it, the library's
// resolution of a round's config, and partial updates that do not reset other fields.
import { describe, expect, it } from "vitest";
import { dpoSchema, gatesSchema, loopConfigSchema, loopFields, patchSchemaOf, resolveDpoConfig } from "./config.ts";

describe("loop configuration", () => {
  it("generates one form field per schema field, with the schema's bounds and defaults", () => {
    const fields = loopFields();
    const defaults = loopConfigSchema.parse({});
    expect(fields.length).toBe(
      Object.keys(defaults.schedule).length + Object.keys(defaults.dpo).length + Object.keys(defaults.gates).length,
    );
    for (const f of fields) {
      expect(f.label.length, f.name).toBeGreaterThan(0);
      expect(f.defaultValue).toEqual((defaults[f.group] as Record<string, unknown>)[f.name]);
    }
    expect(fields.find((f) => f.name === "batchSize")).toMatchObject({
      group: "dpo",
      kind: "number",
      integer: true,
      min: 1,
      max: 64,
      nullable: false,
    });
    expect(fields.find((f) => f.name === "rootKlBudget")).toMatchObject({ group: "gates", nullable: true, defaultValue: 12 });
    expect(fields.find((f) => f.name === "lossType")).toMatchObject({ kind: "enum", options: ["sigmoid", "ipo", "robust", "hinge"] });
    expect(fields.find((f) => f.name === "versusPairs")).toMatchObject({ kind: "boolean", defaultValue: true });
    // No renaming layer: the library's names are the settings' names.
    expect(fields.map((f) => f.name)).toEqual(
      expect.arrayContaining(["lr", "batchSize", "warmupSteps", "maxGradNorm", "evalEverySteps", "patience"]),
    );
    expect(fields.map((f) => f.name)).not.toEqual(expect.arrayContaining(["learningRate"]));
  });

  it("a round's config: β required, unknown or renamed fields refused with their names", () => {
    expect(() => resolveDpoConfig({} as never)).toThrow(/beta is required/);
    expect(() => resolveDpoConfig({ beta: 0.1, learningRate: 1e-4 } as never)).toThrow(/learningRate/);
    expect(() => resolveDpoConfig({ beta: 0.1, gates: { minHeldoutAccuracy: 0.5 } } as never)).toThrow(/gates: .*minHeldoutAccuracy/);
    expect(() => resolveDpoConfig({ beta: 0.1, lossType: "ipo", labelSmoothing: 0.1 })).toThrow(/labelSmoothing must be 0/);
    const c = resolveDpoConfig({ beta: 0.2, lr: 1e-3, gates: { rootKlBudget: null } });
    expect(c).toMatchObject({ beta: 0.2, lr: 1e-3, batchSize: 32, gates: { rootKlBudget: null, klBudget: 12, minHeldoutPairs: 200 } });
  });

  it("a partial update names only what changes (zod's .partial() would fill every default)", () => {
    expect(patchSchemaOf(dpoSchema).parse({ beta: 0.3 })).toEqual({ beta: 0.3 });
    expect(patchSchemaOf(gatesSchema).parse({ klBudget: null })).toEqual({ klBudget: null });
    expect(() => patchSchemaOf(dpoSchema).parse({ batchPairs: 8 })).toThrow(/batchPairs/);
    expect(() => patchSchemaOf(dpoSchema).parse({ batchSize: 0 })).toThrow();
  });
});
