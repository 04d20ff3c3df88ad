// `npx tsx bench/arena.ts [--labelers 16] [--seconds 60] [--hostile-seconds 60] [--max-new-tokens 32] [--think-ms 0] [--server-node-args "--cpu-prof"] [--url http://host:port --admin-user u --admin-password p]`
// Simulated labelers over HTTP, each voting as fast as the arena allows: assign a battle, stream
// it (SSE), vote the moment both completions finished. Prints JSON lines: time to first token
// and to both completions finished (p50/p95), and vote request latency (p50/p99) measured while
// other labelers' generations run. Then the hostile case (issue 16): the same honest labelers
// plus one abusive client (batched sign-in guesses, oversized bodies, next/skip floods, 1,000
// open streams); it prints the honest vote p99 calm and hostile (`--hostile-seconds 0` skips it).
// Without --url it starts its own server (fresh database, seeded with the house model, `next
// start`) and tears it down afterwards.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseOrExit } from "../src/cli/args.ts";
import { adminQuery, dropDatabase, freePort, stopProcessGroup, waitForHealthy, withDatabase } from "../src/devtools/processes.ts";
import { createPrismaClient } from "../src/server/db/client.ts";
import { applyMigrations } from "../src/server/db/migrate.ts";
import { seed } from "../src/server/seed.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const { values: args } = parseOrExit({
  command: "npx tsx bench/arena.ts",
  description: "Simulated labelers over HTTP, each voting as fast as the arena allows; prints latency and throughput as JSON lines.",
  options: {
    labelers: { type: "number", integer: true, above: 0, default: 16, help: "simulated labelers" },
    seconds: { type: "number", above: 0, default: 60, help: "how long to run" },
    "hostile-seconds": { type: "number", above: 0, help: "how long the hostile phase runs (default: --seconds)" },
    "max-new-tokens": { type: "number", integer: true, above: 0, default: 32, help: "completion length" },
    "think-ms": { type: "number", min: 0, default: 0, help: "reading time before each vote (0: vote the moment the arena allows)" },
    "server-node-args": {
      type: "string",
      value: "ARGS",
      default: "",
      dashValue: true,
      help: 'extra node flags for the server it starts, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"',
    },
    url: { type: "string", value: "URL", help: "use a running server instead of starting one" },
    "admin-user": { type: "string", value: "NAME", default: "admin", help: "its admin" },
    "admin-password": { type: "string", value: "PASSWORD", help: "its admin's password" },
  },
});
const LABELERS = args.labelers;
const SECONDS = args.seconds;
const HOSTILE_SECONDS = args["hostile-seconds"] ?? SECONDS;
const MAX_NEW_TOKENS = args["max-new-tokens"];
/** reading time between "both finished" and the vote (0: vote the moment the arena allows) */
const THINK_MS = args["think-ms"];
/** extra node flags for the server it starts, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to see where its time goes */
const SERVER_NODE_ARGS = args["server-node-args"].split(" ").filter(Boolean);

const emit = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ bench: "arena", ...o })}\n`);
const log = (msg: string) => process.stderr.write(`[bench:arena] ${msg}\n`);

function quantile(xs: number[], q: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor(q * s.length))]! * 10) / 10;
}

class Client {
  cookie = "";
  /** Server-Timing app duration of the last call */
  lastServerMs: number | null = null;
  constructor(readonly base: string) {}
  async call<T>(path: string, input: unknown, kind: "mutation" | "query" = "mutation"): Promise<T> {
    const res =
      kind === "mutation"
        ? await fetch(`${this.base}/api/trpc/${path}`, {
            method: "POST",
            headers: { "content-type": "application/json", cookie: this.cookie },
            body: JSON.stringify({ json: input }),
          })
        : await fetch(`${this.base}/api/trpc/${path}?input=${encodeURIComponent(JSON.stringify({ json: input }))}`, {
            headers: { cookie: this.cookie },
          });
    const timing = /app;dur=([\d.]+)/.exec(res.headers.get("server-timing") ?? "");
    this.lastServerMs = timing ? Number(timing[1]) : null;
    const setCookie = res.headers.get("set-cookie");
    if (setCookie) this.cookie = setCookie.split(";")[0]!;
    const body = (await res.json()) as { result?: { data: { json: T } }; error?: { json: { message: string } } };
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}: ${body.error?.json.message}`);
    return body.result!.data.json;
  }
  /** Reads the SSE stream to the end; returns ms to the first text event and to "ready". */
  async stream(battleId: string): Promise<{ firstTokenMs: number | null; readyMs: number }> {
    const started = performance.now();
    const res = await fetch(`${this.base}/api/battles/${battleId}/stream`, { headers: { cookie: this.cookie } });
    if (!res.ok || !res.body) throw new Error(`stream ${battleId}: HTTP ${res.status}`);
    let firstTokenMs: number | null = null;
    let buffered = "";
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffered.indexOf("\n\n")) >= 0) {
        const event = buffered.slice(0, end).match(/^event: (\w+)/)?.[1];
        buffered = buffered.slice(end + 2);
        if ((event === "text" || event === "done") && firstTokenMs === null) firstTokenMs = performance.now() - started;
        if (event === "failure") throw new Error(`stream ${battleId} failed`);
        if (event === "ready") return { firstTokenMs, readyMs: performance.now() - started };
      }
    }
    throw new Error(`stream ${battleId} ended without "ready"`);
  }
}

let generating = 0;
const ttft: number[] = [];
const bothDone: number[] = [];
const voteMs: number[] = [];
/** the server's own time for each vote (Server-Timing), without queueing in front of it */
const voteServerMs: number[] = [];
const nextMs: number[] = [];
const voteMsWhileGenerating: number[] = [];
let errors = 0;

async function labeler(base: string, username: string, password: string, until: number) {
  const c = new Client(base);
  await c.call("auth.signIn", { username, password });
  // At least one battle, so a warm-up call with `until` = now still loads the model.
  do {
    try {
      const tn = performance.now();
      const next = await c.call<{ status: string; battle?: { battleId: string } }>("arena.next", { excludeBattleIds: [] });
      nextMs.push(performance.now() - tn);
      if (next.status !== "battle") break;
      const id = next.battle!.battleId;
      generating++;
      let s: Awaited<ReturnType<Client["stream"]>>;
      try {
        s = await c.stream(id);
      } finally {
        generating--;
      }
      if (s.firstTokenMs !== null) ttft.push(s.firstTokenMs);
      bothDone.push(s.readyMs);
      if (THINK_MS > 0) await new Promise((r) => setTimeout(r, THINK_MS * (0.5 + Math.random())));
      const othersGenerating = generating > 0;
      const t = performance.now();
      await c.call("arena.vote", {
        battleId: id,
        choice: Math.random() < 0.5 ? "A" : "B",
        idempotencyKey: randomBytes(12).toString("hex"),
        msToVote: 0,
      });
      const ms = performance.now() - t;
      voteMs.push(ms);
      if (c.lastServerMs !== null) voteServerMs.push(c.lastServerMs);
      if (othersGenerating) voteMsWhileGenerating.push(ms);
    } catch (err) {
      errors++;
      log(`${username}: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  } while (Date.now() < until);
}

// --- the abusive client (hostile case) -------------------------------------------------------
const abuse: Record<string, Record<string, number>> = {};
const tally = (what: string, status: number | string) => {
  const t = (abuse[what] ??= {});
  t[String(status)] = (t[String(status)] ?? 0) + 1;
};

async function statusOf(p: Promise<Response>): Promise<number | string> {
  try {
    const res = await p;
    await res.body?.cancel().catch(() => {});
    return res.status;
  } catch (err) {
    return (err as Error).name === "TimeoutError" ? "timeout" : "error";
  }
}

/** Everything an abusive client can do without being an admin, until `until`. */
async function abuser(base: string, username: string, password: string, until: number): Promise<() => void> {
  const c = new Client(base);
  await c.call("auth.signIn", { username, password });
  const loops: Promise<void>[] = [];
  const during = (fn: () => Promise<void>) =>
    loops.push(
      (async () => {
        while (Date.now() < until) await fn();
      })(),
    );
  // batched sign-in guesses against the admin account, 10 per request (the batch cap)
  during(async () => {
    const n = 10;
    const input = Object.fromEntries(
      Array.from({ length: n }, (_, i) => [i, { json: { username: "admin", password: `guess-${Math.random()}` } }]),
    );
    tally(
      "signIn_batch",
      await statusOf(
        fetch(`${base}/api/trpc/${Array(n).fill("auth.signIn").join(",")}?batch=1`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(input),
          signal: AbortSignal.timeout(30_000),
        }),
      ),
    );
  });
  // oversized bodies (8 MB), anonymous
  const big = new Uint8Array(8 * 1024 * 1024).fill(120);
  during(async () => {
    tally(
      "oversized_body",
      await statusOf(
        fetch(`${base}/api/trpc/auth.signIn`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: big,
          signal: AbortSignal.timeout(30_000),
        }),
      ),
    );
  });
  // next/skip flood on its own labeler account
  during(async () => {
    try {
      const next = await c.call<{ status: string; battle?: { battleId: string } }>("arena.next", { excludeBattleIds: [] });
      tally("next", 200);
      if (next.battle) {
        await c.call("arena.skip", { battleId: next.battle.battleId });
        tally("skip", 200);
      }
    } catch (err) {
      tally("next_or_skip", /HTTP (\d+)/.exec((err as Error).message)?.[1] ?? "error");
      await new Promise((r) => setTimeout(r, 20));
    }
  });
  // 1,000 open streams, held open and never read
  const holders: AbortController[] = [];
  const next = await c.call<{ status: string; battle?: { battleId: string } }>("arena.next", { excludeBattleIds: [] }).catch(() => null);
  const battleId = next?.battle?.battleId ?? "nosuchbattle";
  for (let i = 0; i < 1000; i++) {
    const ac = new AbortController();
    holders.push(ac);
    fetch(`${base}/api/battles/${battleId}/stream`, { headers: { cookie: c.cookie }, signal: ac.signal }).then(
      (res) => tally("open_stream", res.status),
      () => tally("open_stream", "error"),
    );
  }
  return () => {
    for (const ac of holders) ac.abort();
    void Promise.allSettled(loops);
  };
}

/** A fresh database seeded with the house model, and `next start` on it. */
async function ownServer(): Promise<{ base: string; adminUser: string; adminPassword: string; stop: () => Promise<void> }> {
  if (!existsSync(path.join(ROOT, ".next/BUILD_ID"))) {
    log("no production build; running next build");
    if (
      spawnSync(process.execPath, [path.join(ROOT, "node_modules/next/dist/bin/next"), "build"], { cwd: ROOT, stdio: "inherit" }).status !==
      0
    )
      throw new Error("next build failed");
  }
  const serverUrl = process.env.DATABASE_URL || "postgresql://postgres@127.0.0.1:5432/postgres";
  const dbName = `dpo_bench_${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
  const url = withDatabase(serverUrl, dbName);
  await adminQuery(serverUrl, `CREATE DATABASE "${dbName}"`);
  const adminPassword = `bench-${randomBytes(9).toString("base64url")}`;
  await applyMigrations({ databaseUrl: url });
  const db = createPrismaClient(url);
  const seeded = await seed(db, { adminUsername: "admin", adminPassword });
  await db.$disconnect();
  if (!seeded.houseModel.registered) throw new Error(`house model not registered: ${seeded.houseModel.reason}`);
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [...SERVER_NODE_ARGS, path.join(ROOT, "node_modules/next/dist/bin/next"), "start", "-p", String(port), "-H", "127.0.0.1"],
    {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: url, NODE_ENV: "production", TRAINER_ENABLED: "false", LOG_LEVEL: "warn" },
      stdio: ["ignore", "ignore", "inherit"],
      detached: true,
    },
  );
  const base = `http://127.0.0.1:${port}`;
  await waitForHealthy(base, child, 60_000, "next start");
  return {
    base,
    adminUser: "admin",
    adminPassword,
    stop: async () => {
      await stopProcessGroup(child);
      await dropDatabase(serverUrl, dbName).catch((e: unknown) => log(`could not drop ${dbName}: ${(e as Error).message}`));
    },
  };
}

async function main() {
  const external = args.url ?? "";
  const server = external
    ? {
        base: external,
        adminUser: args["admin-user"],
        adminPassword: args["admin-password"] ?? process.env.ADMIN_PASSWORD ?? "",
        stop: async () => {},
      }
    : await ownServer();
  try {
    const admin = new Client(server.base);
    await admin.call("auth.signIn", { username: server.adminUser, password: server.adminPassword });
    await admin.call("arena.updateSettings", { sampling: { maxNewTokens: MAX_NEW_TOKENS }, arena: { onPolicyShare: 1 } });
    // Enough prompts that no labeler runs out during the run (overlap target 1 by default).
    const openings = [
      "The sea was",
      "In the morning we",
      "The people of this nation",
      "I have always thought that",
      "It was a long day, and",
      "Our ship sailed",
      "The Congress shall",
      "When the whale rose",
    ];
    const content = Array.from({ length: 4000 }, (_, i) => `${openings[i % openings.length]} (${i})`).join("\n");
    await admin.call("prompts.import", { content, format: "text" });
    const tag = Date.now().toString(36);
    const names = Array.from({ length: LABELERS }, (_, i) => `bench${tag}${i}`);
    for (const username of names) await admin.call("users.createLabeler", { username, password: "bench-labeler-pass" });
    // Warm-up: loads the sampler threads and the model before the clock starts.
    log("warming up the sampler");
    await labeler(server.base, names[0]!, "bench-labeler-pass", Date.now() + 1);
    ttft.length = bothDone.length = voteMs.length = voteServerMs.length = nextMs.length = voteMsWhileGenerating.length = 0;

    // The same small authenticated request with nothing generating, then during the run: the
    // difference is what sampling costs the web process (the rest is the machine's load).
    const probe = async (ms: number[], until: number, gapMs: number) => {
      while (Date.now() < until) {
        const t = performance.now();
        await admin.call("arena.options", {}, "query");
        ms.push(performance.now() - t);
        await new Promise((r) => setTimeout(r, gapMs));
      }
    };
    const loopDelay = async (reset: boolean) =>
      ((await (await fetch(`${server.base}/api/health${reset ? "?resetLoopDelay=1" : ""}`)).json()) as { eventLoopDelayMs?: unknown })
        .eventLoopDelayMs;
    await loopDelay(true);
    const idle: number[] = [];
    const busy: number[] = [];
    await probe(idle, Date.now() + 5000, 100);
    emit({ metric: "trpc_query_ms_idle", p50: quantile(idle, 0.5), p99: quantile(idle, 0.99), n: idle.length });
    emit({ metric: "event_loop_delay_ms_idle", ...((await loopDelay(true)) as object) });

    log(`${LABELERS} labelers for ${SECONDS} s, max ${MAX_NEW_TOKENS} new tokens`);
    const started = Date.now();
    await Promise.all([
      probe(busy, started + SECONDS * 1000, 250),
      ...names.map((n) => labeler(server.base, n, "bench-labeler-pass", started + SECONDS * 1000)),
    ]);
    emit({ metric: "event_loop_delay_ms_while_generating", ...((await loopDelay(true)) as object) });
    emit({ metric: "trpc_query_ms_while_generating", p50: quantile(busy, 0.5), p99: quantile(busy, 0.99), n: busy.length });
    const elapsed = (Date.now() - started) / 1000;
    emit({ metric: "time_to_first_token_ms", p50: quantile(ttft, 0.5), p95: quantile(ttft, 0.95), n: ttft.length });
    emit({ metric: "both_finished_ms", p50: quantile(bothDone, 0.5), p95: quantile(bothDone, 0.95), n: bothDone.length });
    emit({ metric: "next_battle_request_ms", p50: quantile(nextMs, 0.5), p99: quantile(nextMs, 0.99), n: nextMs.length });
    emit({ metric: "vote_request_ms", p50: quantile(voteMs, 0.5), p99: quantile(voteMs, 0.99), n: voteMs.length });
    emit({ metric: "vote_server_ms", p50: quantile(voteServerMs, 0.5), p99: quantile(voteServerMs, 0.99), n: voteServerMs.length });
    emit({
      metric: "vote_request_ms_while_generating",
      p50: quantile(voteMsWhileGenerating, 0.5),
      p99: quantile(voteMsWhileGenerating, 0.99),
      n: voteMsWhileGenerating.length,
    });
    emit({
      metric: "throughput",
      load_average_1m: Math.round(os.loadavg()[0]! * 10) / 10,
      cpus: os.availableParallelism(),
      labelers: LABELERS,
      seconds: Math.round(elapsed),
      votes: voteMs.length,
      votes_per_minute: Math.round((voteMs.length / elapsed) * 600) / 10,
      errors,
      max_new_tokens: MAX_NEW_TOKENS,
      think_ms: THINK_MS,
    });

    if (HOSTILE_SECONDS > 0) {
      const calm = { p50: quantile(voteMs, 0.5), p99: quantile(voteMs, 0.99), n: voteMs.length };
      ttft.length = bothDone.length = voteMs.length = voteServerMs.length = nextMs.length = voteMsWhileGenerating.length = 0;
      const abusive = `abuser${tag}`;
      await admin.call("users.createLabeler", { username: abusive, password: "bench-labeler-pass" });
      log(`hostile: ${LABELERS} labelers plus one abusive client for ${HOSTILE_SECONDS} s`);
      const hostileStart = Date.now();
      const until = hostileStart + HOSTILE_SECONDS * 1000;
      const honest = Promise.all(names.map((n) => labeler(server.base, n, "bench-labeler-pass", until)));
      // Every client here shares 127.0.0.1, so the abuser's failed sign-ins would also throttle
      // the honest labelers' sign-ins (per address): let those finish first.
      await new Promise((r) => setTimeout(r, 3000));
      const stopAbuse = await abuser(server.base, abusive, "bench-labeler-pass", until);
      await honest;
      stopAbuse();
      const hostile = { p50: quantile(voteMs, 0.5), p99: quantile(voteMs, 0.99), n: voteMs.length };
      emit({ metric: "abusive_client_answers", ...abuse });
      emit({ metric: "both_finished_ms_hostile", p50: quantile(bothDone, 0.5), p95: quantile(bothDone, 0.95), n: bothDone.length });
      emit({
        metric: "honest_vote_request_ms",
        calm,
        hostile,
        p99_ratio: calm.p99 && hostile.p99 ? Math.round((hostile.p99 / calm.p99) * 100) / 100 : null,
        load_average_1m: Math.round(os.loadavg()[0]! * 10) / 10,
        errors,
      });
    }
  } finally {
    await server.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log((err as Error).message);
    process.exit(1);
  },
);
