// API keys: created by admins over the real tRPC handler and by the real CLI, stored only as
// sha256, scoped, rate-limited, last-used stamped, and refused at once when revoked — on the
// /v1 API and on the exports.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser, errorOf, httpClient } from "../api/fixtures.ts";
import { startV1World, type V1World } from "./world.ts";

let w: V1World;
let http: ReturnType<typeof httpClient>;
let admin: string;
let labeler: string;

beforeAll(async () => {
  w = await startV1World();
  http = httpClient(w.db);
  admin = (await createUser(w.db, { role: "ADMIN" })).cookie;
  labeler = (await createUser(w.db)).cookie;
}, 60_000);
afterAll(() => w?.close());

const data = <T>(r: { body: unknown }) => (r.body as { result: { data: { json: T } } }).result.data.json;
const get = (path: string, key: string) => fetch(w.baseUrl + path, { headers: { authorization: `Bearer ${key}` } });

describe("API keys in the console (tRPC)", () => {
  it("an admin creates a key, shown once and stored only as its sha256", async () => {
    const r = await http.mutate(
      "apiKeys.create",
      { name: "eval harness", scopes: ["inference", "export", "inference"], rateLimitPerMinute: 100 },
      { cookie: admin },
    );
    expect(r.status).toBe(200);
    const { key, apiKey } = data<{ key: string; apiKey: { id: string; scopes: string[]; prefix: string } }>(r);
    expect(key).toMatch(/^dpa_[A-Za-z0-9_-]{43}$/);
    expect(apiKey.scopes).toEqual(["export", "inference"]);
    expect(key.startsWith(apiKey.prefix)).toBe(true);
    const [row] = await w.db.$queryRaw<Record<string, unknown>[]>`SELECT * FROM "ApiKey" WHERE id = ${apiKey.id}`;
    expect(row!.hash).toBe(createHash("sha256").update(key).digest("hex"));
    // nothing at rest holds the secret part of the key
    expect(JSON.stringify(row)).not.toContain(key.slice(apiKey.prefix.length, apiKey.prefix.length + 12));
    // the list never returns the key or its hash
    const list = data<Record<string, unknown>[]>(await http.query("apiKeys.list", undefined, { cookie: admin }));
    expect(JSON.stringify(list)).not.toContain(key);
    expect(Object.keys(list[0]!)).not.toContain("hash");
    expect((await get("/v1/models", key)).status).toBe(200);
  });

  it("refuses labelers, unknown scopes and empty names with field messages", async () => {
    expect((await http.mutate("apiKeys.create", { name: "x", scopes: ["inference"] }, { cookie: labeler })).status).toBe(403);
    expect((await http.query("apiKeys.list", undefined, { cookie: labeler })).status).toBe(403);
    const bad = await http.mutate("apiKeys.create", { name: " ", scopes: ["root"] }, { cookie: admin });
    expect(bad.status).toBe(400);
    const fields = (errorOf(bad).zodError as { fieldErrors: Record<string, string[]> }).fieldErrors;
    expect(Object.keys(fields).sort()).toEqual(["name", "scopes.0"]);
  });

  it("shows when a key was last used", async () => {
    const { key, apiKey } = data<{ key: string; apiKey: { id: string } }>(
      await http.mutate("apiKeys.create", { name: "last-used", scopes: ["inference"] }, { cookie: admin }),
    );
    const before = data<{ id: string; lastUsedAt: Date | null }[]>(await http.query("apiKeys.list", undefined, { cookie: admin })).find(
      (k) => k.id === apiKey.id,
    )!;
    expect(before.lastUsedAt).toBeNull();
    const t0 = Date.now();
    expect((await get("/v1/models", key)).status).toBe(200);
    const after = data<{ id: string; lastUsedAt: Date | null }[]>(await http.query("apiKeys.list", undefined, { cookie: admin })).find(
      (k) => k.id === apiKey.id,
    )!;
    expect(new Date(after.lastUsedAt!).getTime()).toBeGreaterThanOrEqual(t0 - 1000);
  });

  it("a revoked key is refused at once, on the API and on exports", async () => {
    const { key, apiKey } = data<{ key: string; apiKey: { id: string } }>(
      await http.mutate("apiKeys.create", { name: "to revoke", scopes: ["admin"] }, { cookie: admin }),
    );
    expect((await get("/v1/models", key)).status).toBe(200);
    expect((await get("/api/export/trl", key)).status).toBe(200);
    expect((await http.mutate("apiKeys.revoke", { id: apiKey.id }, { cookie: admin })).status).toBe(200);
    const r = await get("/v1/models", key);
    expect(r.status).toBe(401);
    expect(((await r.json()) as { error: { code: string; message: string } }).error).toMatchObject({
      code: "invalid_api_key",
      message: expect.stringMatching(/revoked/),
    });
    expect((await get("/api/export/trl", key)).status).toBe(401);
    expect((await http.mutate("apiKeys.revoke", { id: apiKey.id }, { cookie: admin })).status).toBe(409);
  });
});

describe("exports with an API key", () => {
  it("export scope reads both exports; vote and inference scopes get 403; a wrong key 401", async () => {
    const exporter = await w.key(["export"]);
    for (const path of ["/api/export/trl", "/api/export/battles"]) {
      const ok = await get(path, exporter);
      expect(ok.status, path).toBe(200);
      expect(ok.headers.get("content-type")).toMatch(/ndjson/);
      await ok.text();
      for (const scopes of [["vote"], ["inference"]]) {
        const r = await get(path, await w.key(scopes));
        expect(r.status, `${path} with ${scopes}`).toBe(403);
        expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(/"export" scope/);
      }
      expect((await get(path, "dpa_not-a-key")).status).toBe(401);
    }
    // without any credential the exports still ask for an admin session
    expect((await fetch(`${w.baseUrl}/api/export/trl`)).status).toBe(401);
  });
});

describe("npm run cli -- api-keys", () => {
  const cli = (args: string[]) =>
    promisify(execFile)(process.execPath, ["--import", "tsx", "scripts/cli.ts", "api-keys", ...args], {
      env: { ...process.env, DATABASE_URL: w.tdb.url },
    });

  it("creates a key, prints it once, lists and revokes it", async () => {
    const created = await cli(["create", "--name", "from the shell", "--scopes", "inference,export"]);
    const key = created.stdout.trim().split("\n").at(-1)!;
    expect(key).toMatch(/^dpa_/);
    expect((await get("/v1/models", key)).status).toBe(200);
    const row = await w.db.apiKey.findUniqueOrThrow({ where: { hash: createHash("sha256").update(key).digest("hex") } });
    expect(row.scopes).toEqual(["export", "inference"]);
    const listed = (await cli(["list"])).stdout;
    expect(listed).toContain(row.id);
    expect(listed).not.toContain(key);
    await cli(["revoke", row.id]);
    expect((await get("/v1/models", key)).status).toBe(401);
    await expect(cli(["create", "--name", "x", "--scopes", "root"])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/Scopes are inference, export, vote, admin/),
    });
  }, 60_000);
});
