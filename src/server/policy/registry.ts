// Which policy version this process serves. Every web process runs one registry: it loads the
// SERVING version at start, hears promotions through LISTEN/NOTIFY, and polls as a fallback
// for missed notifications (a dropped connection, a proxy that eats NOTIFY). A new version is
// loaded in the background; only when the load succeeded does `current()` switch, so requests
// never wait for weights, and a corrupt checkpoint leaves the previous version serving.
import pg from "pg";
import { createLogger, type Logger } from "../log.ts";
import { SERVING_CHANNEL } from "./channel.ts";
import type { VersionRef } from "./load.ts";

export interface PolicyLoader {
  /** Makes `version` ready to serve; throws (with a clear message) to refuse it. */
  load(version: VersionRef): Promise<void>;
  /** `versionId` is no longer current: free it once the completions using it have finished. */
  retire(versionId: number): Promise<void> | void;
}

export interface SwapEvent {
  from: number | null;
  to: number;
  name: string;
  /** ms from noticing the change to serving it */
  loadMs: number;
  via: "start" | "notify" | "poll";
}

export interface RegistryOptions {
  databaseUrl: string;
  loader: PolicyLoader;
  pollIntervalMs?: number;
  /** after a refused version, wait this long before trying the same checkpoint again */
  retryRefusedMs?: number;
  log?: Logger;
}

export class PolicyRegistry {
  private client: pg.Client | null = null;
  private serving: VersionRef | null = null;
  private refusals = new Map<string, { at: number; error: string }>();
  private pending: Promise<void> | null = null;
  private again = false;
  private pollTimer: NodeJS.Timeout | null = null;
  private reconnectDelay = 250;
  private stopped = false;
  private listeners = new Set<(e: SwapEvent) => void>();
  private readonly log: Logger;
  private readonly pollIntervalMs: number;
  private readonly retryRefusedMs: number;

  constructor(private readonly opts: RegistryOptions) {
    this.log = opts.log ?? createLogger({ component: "policy-registry" });
    this.pollIntervalMs = opts.pollIntervalMs ?? 1000;
    this.retryRefusedMs = opts.retryRefusedMs ?? 30_000;
  }

  /** The version new completions should use (null until one has loaded). */
  current(): VersionRef | null {
    return this.serving;
  }

  onSwap(listener: (e: SwapEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The last refusal of a version, if any (for health pages and tests). */
  refusal(versionId: number): string | null {
    for (const [key, r] of this.refusals) if (key.startsWith(`${versionId}:`)) return r.error;
    return null;
  }

  async start(): Promise<void> {
    await this.connect().catch((err) => {
      this.log.warn("policy registry could not connect; will retry", { error: err });
      this.scheduleReconnect();
    });
    await this.refresh("start");
    this.pollTimer = setInterval(() => void this.refresh("poll"), this.pollIntervalMs);
    this.pollTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    await this.pending?.catch(() => {});
    await this.client?.end().catch(() => {});
    this.client = null;
  }

  /** Checks the database and swaps if the SERVING version changed. Concurrent calls coalesce. */
  refresh(via: SwapEvent["via"] = "poll"): Promise<void> {
    if (this.pending) {
      this.again = true;
      return this.pending;
    }
    this.pending = this.check(via)
      .catch((err) => this.log.warn("policy registry check failed", { error: err }))
      .finally(() => {
        this.pending = null;
        if (this.again && !this.stopped) {
          this.again = false;
          void this.refresh(via);
        }
      });
    return this.pending;
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.opts.databaseUrl, application_name: "dpo-arena-policy-registry" });
    client.on("notification", (msg) => {
      if (msg.channel === SERVING_CHANNEL) void this.refresh("notify");
    });
    client.on("error", (err) => {
      this.log.warn("policy registry lost its database connection; polling continues after reconnect", { error: err });
      if (this.client === client) this.client = null;
      client.end().catch(() => {});
      this.scheduleReconnect();
    });
    await client.connect();
    await client.query(`LISTEN ${SERVING_CHANNEL}`);
    this.client = client;
    this.reconnectDelay = 250;
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, 10_000);
    setTimeout(() => {
      if (this.stopped || this.client) return;
      this.connect()
        .then(() => this.refresh("poll"))
        .catch(() => this.scheduleReconnect());
    }, delay).unref();
  }

  private async check(via: SwapEvent["via"]): Promise<void> {
    if (this.stopped) return;
    if (!this.client) return; // reconnect loop is running; the next poll checks again
    const { rows } = await this.client.query<VersionRef>(
      `SELECT id, name, "checkpointUri", "checkpointSha256" FROM "PolicyVersion" WHERE status = 'SERVING' LIMIT 1`,
    );
    const target = rows[0];
    if (!target || target.id === this.serving?.id) return;
    const key = `${target.id}:${target.checkpointSha256}`;
    const refused = this.refusals.get(key);
    if (refused && Date.now() - refused.at < this.retryRefusedMs) return;

    const started = performance.now();
    try {
      await this.opts.loader.load(target);
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      this.refusals.set(key, { at: Date.now(), error });
      this.log.error("refused to serve a policy version; the previous version keeps serving", {
        version: target.name,
        keptServing: this.serving?.name ?? null,
        error,
      });
      return;
    }
    if (this.stopped) return;
    const previous = this.serving;
    this.serving = target;
    this.refusals.delete(key);
    const event: SwapEvent = {
      from: previous?.id ?? null,
      to: target.id,
      name: target.name,
      loadMs: Math.round(performance.now() - started),
      via,
    };
    this.log.info("serving policy version", { ...event });
    if (previous) await this.opts.loader.retire(previous.id);
    for (const l of this.listeners) l(event);
  }
}
