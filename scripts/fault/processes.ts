// The processes a fault run starts and kills: web servers (the product's route handlers on a
// plain HTTP host, src/sim/product/host.ts: no production build needed) and trainers
// (workers/trainer.ts), each in its own process group with its output in <work>/<name>.log.
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import path from "node:path";
import { freePort, stopProcessGroup, waitForHealthy } from "../../src/devtools/processes.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");

export interface Web {
  base: string;
  port: number;
  child: ChildProcess;
}

/** Starts and tracks a run's processes; `stopAll` ends every one still running. */
export class Fleet {
  private readonly children = new Set<ChildProcess>();

  constructor(
    /** the run's directory: logs, checkpoints */
    readonly work: string,
    readonly databaseUrl: string,
  ) {}

  private spawnLogged(name: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
    const out = createWriteStream(path.join(this.work, `${name}.log`), { flags: "a" });
    const child = spawn(process.execPath, ["--import", "tsx", ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    child.stdout!.pipe(out);
    child.stderr!.pipe(out);
    this.children.add(child);
    child.once("exit", () => this.children.delete(child));
    return child;
  }

  private appEnv(): NodeJS.ProcessEnv {
    return {
      DATABASE_URL: this.databaseUrl,
      CHECKPOINT_DIR: path.join(this.work, "checkpoints"),
      TF_BACKEND: "cpu",
      SAMPLER_THREADS: "1",
      LOG_LEVEL: "warn",
      NODE_ENV: "production",
    };
  }

  /** A web server (no trainer in it), healthy when this returns; `port` restarts one where it was. */
  async startWeb(name: string, port?: number): Promise<Web> {
    const p = port ?? (await freePort());
    const child = this.spawnLogged(name, ["src/sim/product/host.ts"], { ...this.appEnv(), PORT: String(p), TRAINER_ENABLED: "false" });
    const base = `http://127.0.0.1:${p}`;
    await waitForHealthy(base, child, 90_000, name);
    return { base, port: p, child };
  }

  startTrainer(workerId: string, leaseSeconds: number): ChildProcess {
    return this.spawnLogged(
      workerId,
      ["workers/trainer.ts", "--lease-seconds", String(leaseSeconds), "--tick-ms", "300", "--worker-id", workerId],
      this.appEnv(),
    );
  }

  async stopAll(): Promise<void> {
    for (const c of [...this.children]) await stopProcessGroup(c).catch(() => {});
  }
}

/** SIGKILL to the process group; resolves when the process has exited. */
export function kill9(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  process.kill(-child.pid!, "SIGKILL");
  return exited;
}
