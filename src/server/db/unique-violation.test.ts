import { describe, expect, it } from "vitest";
import { isUniqueViolation } from "./unique-violation.ts";

describe("isUniqueViolation", () => {
  it("knows Prisma's P2002, PostgreSQL's 23505 (also as a cause) and the driver's message", () => {
    expect(isUniqueViolation({ code: "P2002" })).toBe(true);
    expect(isUniqueViolation({ code: "23505" })).toBe(true);
    expect(isUniqueViolation(new Error("raw query failed", { cause: { code: "23505" } }))).toBe(true);
    expect(isUniqueViolation(new Error("a", { cause: new Error("b", { cause: { code: "P2002" } }) }))).toBe(true);
    expect(isUniqueViolation(new Error('duplicate key value violates unique constraint "User_username_key"'))).toBe(true);
  });

  it("says no to other errors and to non-errors", () => {
    expect(isUniqueViolation({ code: "P2025" })).toBe(false);
    expect(isUniqueViolation({ code: "23503" })).toBe(false);
    expect(isUniqueViolation(new Error("connection terminated"))).toBe(false);
    expect(isUniqueViolation(null)).toBe(false);
    expect(isUniqueViolation(undefined)).toBe(false);
    expect(isUniqueViolation("P2002")).toBe(false);
  });
});
