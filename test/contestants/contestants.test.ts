// Issue 17, external contestants, end to end through the real HTTP API: a second dpo-arena
// (instance.ts, its own process, port and database) is registered as the contestant of this one;
// a labeler's battles against it stream, are voted and rated; its votes never become training
// data; stopping it marks it unreachable and the arena keeps serving battles.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PrismaClient } from "../../src/generated/prisma/client.ts";
import { resetEnvCache } from "../../src/server/env.ts";
import { createTrpcRequestHandler } from "../../src/server/routers/handler.ts";
import { getSampler } from "../../src/server/sampler/index.ts";
import { seed } from "../../src/server/seed.ts";
import { readDecisiveVotes } from "../../src/server/services/export/trl.ts";
import { versionOverview } from "../../src/server/services/leaderboard/versions.ts";
import { countPairs } from "../../src/server/services/rounds/pairs.ts";
import { createUser } from "../api/fixtures.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { serveRoutes } from "../v1/serve-routes.ts";

const SECRET = randomBytes(32).toString("hex");
const TTL_HOURS = 24;

interface Instance2 {
  child: ChildProcess;
  baseUrl: string;
  key: string;
  exited: Promise<number | null>;
}

/** Starts the contestant: another dpo-arena in its own process. */
async function startInstance2(): Promise<Instance2> {
  const tsx = path.resolve("node_modules/.bin/tsx");
  const child = spawn(tsx, [path.resolve("test/contestants/instance.ts")], {
    env: { ...process.env, DATABASE_URL: process.env.DATABASE_URL ?? "", LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  let out = "";
  const ready = await new Promise<{ baseUrl: string; key: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the second instance did not start within 90 s: ${out}`)), 90_000);
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n").find((l) => l.startsWith('{"baseUrl"'));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line));
      }
    });
    child.on("exit", (code) => reject(new Error(`the second instance exited (${code}) before serving: ${out}`)));
  });
  return { child, exited, ...ready };
}

interface Arena {
  tdb: TestDatabase;
  db: PrismaClient;
  url: string;
  close(): Promise<void>;
}

/** This instance: the real tRPC handler and battle stream route on a free port. */
async function startArena(): Promise<Arena> {
  const tdb = await createTestDatabase();
  process.env.DATABASE_URL = tdb.url;
  process.env.SAMPLER_THREADS = "1";
  process.env.CONTESTANT_SECRET_KEY = SECRET;
  resetEnvCache();
  await seed(tdb.db, { adminPassword: "admin-password-for-tests" });
  const trpc = createTrpcRequestHandler({ db: tdb.db, sessionTtlHours: TTL_HOURS });
  const streamRoute = await import("../../src/app/api/battles/[id]/stream/route.ts");
  const sampler = await getSampler();
  for (let i = 0; i < 200 && !sampler.registry.current(); i++) await new Promise((r) => setTimeout(r, 50));
  // The request URL's host stays "arena.test", as this test has always seen it.
  const server = await serveRoutes(async (request, url) => {
    const stream = url.pathname.match(/^\/api\/battles\/([^/]+)\/stream$/);
    if (stream) return streamRoute.GET(request, { params: Promise.resolve({ id: stream[1]! }) });
    return url.pathname.startsWith("/api/trpc/") ? trpc(request) : new Response("not found", { status: 404 });
  }, "http://arena.test");
  const url = server.url;
  return {
    tdb,
    db: tdb.db,
    url,
    async close() {
      await server.close();
      await sampler.close();
      (globalThis as { __dpoArenaSampler?: unknown }).__dpoArenaSampler = undefined;
      await tdb.drop();
    },
  };
}

let arena: Arena;
let instance2: Instance2;
let admin: string;
let labeler: string;

async function call(kind: "query" | "mutation", procedure: string, input: unknown, cookie: string) {
  const url = new URL(`/api/trpc/${procedure}`, arena.url);
  const init: RequestInit =
    kind === "query"
      ? { headers: { cookie } }
      : {
          method: "POST",
          headers: { cookie, "content-type": "application/json", origin: arena.url },
          body: JSON.stringify({ json: input }),
        };
  if (kind === "query" && input !== undefined) url.searchParams.set("input", JSON.stringify({ json: input }));
  const res = await fetch(url, init);
  const body = (await res.json()) as { result?: { data: { json: unknown } }; error?: { json: { message: string } } };
  if (!res.ok) return { status: res.status, error: body.error?.json.message ?? "", data: undefined as never };
  return { status: res.status, error: null, data: body.result!.data.json as never };
}

interface StreamedBattle {
  texts: { A: string; B: string };
  /** shown lengths of A and B after every network read with text in it, until a side was done
   * (the server writes both slots' changes together, so a read holds both) */
  whileBothRan: [number, number][];
  events: string[];
}

/** Reads the battle's SSE stream as the browser does, until `ready` or `failure`. */
async function streamBattle(battleId: string): Promise<StreamedBattle> {
  const res = await fetch(`${arena.url}/api/battles/${battleId}/stream`, { headers: { cookie: labeler } });
  expect(res.status).toBe(200);
  const texts = { A: "", B: "" };
  const done = { A: false, B: false };
  const whileBothRan: [number, number][] = [];
  const events: string[] = [];
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done: end } = await reader.read();
    if (end) break;
    buffer += decoder.decode(value, { stream: true });
    let sawText = false;
    for (let cut = buffer.indexOf("\n\n"); cut >= 0; cut = buffer.indexOf("\n\n")) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? "";
      const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? "{}");
      events.push(event);
      if (event === "text") {
        const slot = data.slot as "A" | "B";
        texts[slot] = texts[slot].slice(0, data.from) + data.append;
        sawText = true;
      } else if (event === "done") {
        texts[data.slot as "A" | "B"] = data.text;
        done[data.slot as "A" | "B"] = true;
      } else if (event === "ready" || event === "failure") {
        await reader.cancel();
        return { texts, whileBothRan, events };
      }
    }
    if (sawText && !done.A && !done.B && buffer === "") whileBothRan.push([texts.A.length, texts.B.length]);
  }
  return { texts, whileBothRan, events };
}

async function playBattle(choice: "A" | "B" | "TIE") {
  const next = await call("mutation", "arena.next", {}, labeler);
  expect(next.error).toBeNull();
  const { battle } = next.data as { status: string; battle: { battleId: string } };
  const streamed = await streamBattle(battle.battleId);
  expect(streamed.events.at(-1)).toBe("ready");
  const vote = await call(
    "mutation",
    "arena.vote",
    { battleId: battle.battleId, choice, idempotencyKey: `key-${battle.battleId}`, msToVote: 1200 },
    labeler,
  );
  expect(vote.error).toBeNull();
  const row = await arena.db.battle.findUniqueOrThrow({
    where: { id: battle.battleId },
    select: {
      kind: true,
      contestantId: true,
      policyAId: true,
      policyBId: true,
      completions: { select: { slot: true, contestantId: true, text: true } },
    },
  });
  return { battleId: battle.battleId, streamed, vote: vote.data as { kind: string; reveal: { A: string; B: string } }, row };
}

beforeAll(async () => {
  instance2 = await startInstance2();
  arena = await startArena();
  admin = (await createUser(arena.db, { role: "ADMIN" })).cookie;
  labeler = (await createUser(arena.db)).cookie;
  // Short answers keep the test quick; every battle meets the contestant while it is usable.
  const settings = await call(
    "mutation",
    "arena.updateSettings",
    { sampling: { maxNewTokens: 40 }, arena: { onPolicyShare: 0, contestantShare: 1 } },
    admin,
  );
  expect(settings.error).toBeNull();
  await arena.db.prompt.createMany({
    data: [
      "The President",
      "The Congress shall",
      "It is the duty",
      "The whale",
      "Our nation",
      "We the people",
      "In the year",
      "The sea",
    ].map((text) => ({ text, source: "test" })),
  });
}, 240_000);

afterAll(async () => {
  if (instance2 && instance2.child.exitCode === null) {
    instance2.child.kill("SIGTERM");
    await instance2.exited;
  }
  await arena?.close();
});

describe("another dpo-arena as an external contestant", () => {
  let contestantId: number;

  it("is registered by an admin with its API key stored encrypted", async () => {
    const bad = await call("mutation", "contestants.add", { name: "v7", baseUrl: "ftp://x", model: "m" }, admin);
    expect(bad.status).toBe(400);
    expect(bad.error).toMatch(/version|http/i);
    const asLabeler = await call("mutation", "contestants.add", { name: "other", baseUrl: instance2.baseUrl, model: "policy" }, labeler);
    expect(asLabeler.status).toBe(403);

    const added = await call(
      "mutation",
      "contestants.add",
      { name: "arena-two", baseUrl: instance2.baseUrl, model: "policy", apiKey: instance2.key },
      admin,
    );
    expect(added.error).toBeNull();
    const c = added.data as { id: number; hasApiKey: boolean; status: string };
    expect(c.hasApiKey).toBe(true);
    expect(c.status).toBe("unknown");
    contestantId = c.id;
    const stored = await arena.db.contestant.findUniqueOrThrow({ where: { id: c.id } });
    expect(stored.apiKeyEncrypted).toBeTruthy();
    expect(stored.apiKeyEncrypted).not.toContain(instance2.key);
    expect(Buffer.from(stored.apiKeyEncrypted!, "base64").toString("latin1")).not.toContain(instance2.key.slice(4));
    expect(JSON.stringify(await call("query", "contestants.list", undefined, admin))).not.toContain(instance2.key);

    const checked = await call("mutation", "contestants.check", { id: c.id }, admin);
    expect((checked.data as { status: string }).status).toBe("ok");
  });

  it("meets the serving policy in battles that stream like local ones, are voted and rated, and never trained on", async () => {
    const played = [];
    for (const choice of ["A", "B", "A", "B", "TIE"] as const) played.push(await playBattle(choice));
    for (const p of played) {
      expect(p.row.kind).toBe("CONTESTANT");
      expect(p.row.contestantId).toBe(contestantId);
      // the contestant's slot has no version, and its completion is the contestant's
      const slot = p.row.policyAId === null ? "A" : "B";
      expect(p.row[slot === "A" ? "policyBId" : "policyAId"]).not.toBeNull();
      const theirs = p.row.completions.find((c) => c.slot === slot)!;
      expect(theirs.contestantId).toBe(contestantId);
      expect(theirs.text.length).toBeGreaterThan(0);
      // the answer is cut by the local rule: at most max new tokens (40 bytes) + 24 bytes of overshoot
      expect(Buffer.byteLength(theirs.text)).toBeLessThanOrEqual(64);
      expect(p.streamed.texts[slot]).toBe(theirs.text);
      // while both sides ran, neither was ahead of the other
      for (const [a, b] of p.streamed.whileBothRan) expect(Math.abs(a - b)).toBeLessThanOrEqual(2);
      expect(p.vote.kind).toBe("CONTESTANT");
      expect(p.vote.reveal[slot]).toBe("arena-two");
      expect(p.vote.reveal[slot === "A" ? "B" : "A"]).toBe("v0");
    }
    // the streams were watched while both sides ran (the check above was not vacuous)
    expect(played.reduce((n, p) => n + p.streamed.whileBothRan.length, 0)).toBeGreaterThan(3);
    const board = await call("mutation", "leaderboard.refresh", {}, admin);
    expect(board.error).toBeNull();
    const got = await call("query", "leaderboard.get", undefined, admin);
    const rows = (got.data as { snapshot: { board: { rows: { model: string; battles: number }[] } } }).snapshot.board.rows;
    expect(rows.map((r) => r.model).sort()).toEqual(["arena-two", "v0"]);
    expect(rows.find((r) => r.model === "arena-two")!.battles).toBe(5);

    // the leaderboard's version table lists it as an external contestant with its rated battles
    const overview = await versionOverview({ db: arena.db });
    expect(overview.versions.map(({ name, status, rated, self }) => ({ name, status, rated, self }))).toEqual([
      { name: "v0", status: "SERVING", rated: 5, self: 0 },
      { name: "arena-two", status: "EXTERNAL", rated: 5, self: 0 },
    ]);

    // never trained on: no DPO pair and nothing in the TRL export comes from these votes
    const pairs = await countPairs(arena.db, { versus: true, heldoutFraction: 0.2 });
    expect(pairs.fresh + pairs.heldout).toBe(0);
    expect(await readDecisiveVotes(arena.db, undefined, 100)).toEqual([]);
    const listed = (await call("query", "contestants.list", undefined, admin)).data as {
      status: string;
      votes: number;
      lastSuccessAt: string | null;
    }[];
    expect(listed[0]!.status).toBe("ok");
    expect(listed[0]!.votes).toBe(5);
    expect(listed[0]!.lastSuccessAt).not.toBeNull();
  });

  it("once the second instance stops, is marked unreachable and skipped while the arena keeps serving", async () => {
    instance2.child.kill("SIGTERM");
    expect(await instance2.exited).toBe(0);

    // The first battle after the stop still meets it, fails over to the serving model, and is voted.
    const fallback = await playBattle("A");
    expect(fallback.row.kind).toBe("ON_POLICY");
    expect(fallback.row.contestantId).toBeNull();
    expect(fallback.row.completions.every((c) => c.contestantId === null)).toBe(true);
    const listed = (await call("query", "contestants.list", undefined, admin)).data as {
      status: string;
      lastError: string | null;
      lastErrorAt: string | null;
    }[];
    expect(listed[0]!.status).toBe("unreachable");
    expect(listed[0]!.lastError).toMatch(/cannot reach/);

    // From then on it is skipped at assignment: battles are ordinary ones, and they are served.
    const next = await playBattle("B");
    expect(next.row.kind).toBe("ON_POLICY");
    expect(next.streamed.events).not.toContain("failure");
  });
});
