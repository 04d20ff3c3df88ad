// Child processes of `npm start` (scripts/start.ts): spawning them, and restarting a web server
// or trainer that crashed, with backoff, instead of stopping the whole arena.
import { type ChildProcess, spawn } from "node:child_process";
import { constants } from "node:os";
import type { Logger } from "../src/server/log.ts";

export interface Supervised {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  child: ChildProcess;
  /** the exit code; a child killed by a signal reports 128 + its number, as a shell would */
  exited: Promise<number>;
}

export function spawnSupervised(spec: {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  log: Logger;
}): Supervised {
  const { name, command, args, env, cwd, log } = spec;
  // Children stay in our process group on purpose: a terminal Ctrl-C reaches them directly, so
  // they still stop if this supervisor is killed before it can forward the signal.
  const child = spawn(command, args, { cwd, env, stdio: "inherit" });
  const exited = new Promise<number>((resolve) => {
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 1)));
    child.on("error", (err) => {
      log.error(`could not start ${name}`, { err });
      resolve(127);
    });
  });
  return { name, command, args, env, cwd, child, exited };
}

// A crashed child is started again after a delay that doubles with each quick crash (1 s … 30 s);
// one that ran for a minute starts over at 1 s. Ten crashes in a row, each within a minute of
// starting, is a loop that restarting will not fix: give up then. An exit with code 0 or by
// SIGINT/SIGTERM is a stop request (Ctrl-C reaches the whole process group), never restarted; the
// restart delay also lets the supervisor's own signal handler run first.
export interface RestartPolicy {
  minDelayMs: number;
  maxDelayMs: number;
  healthyRunMs: number;
  maxQuickCrashes: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = { minDelayMs: 1000, maxDelayMs: 30_000, healthyRunMs: 60_000, maxQuickCrashes: 10 };

export interface SuperviseHooks {
  log: Logger;
  isStopping: () => boolean;
  onStopRequested: (name: string, code: number) => void;
  onGiveUp: (name: string, code: number) => void;
  onRestarted: (old: Supervised, fresh: Supervised) => void;
}

export function superviseChild(first: Supervised, hooks: SuperviseHooks, policy: RestartPolicy = DEFAULT_RESTART_POLICY): void {
  const { log } = hooks;
  let quickCrashes = 0;
  let delayMs = policy.minDelayMs;
  const watch = (s: Supervised, startedAt: number) => {
    void s.exited.then((code) => {
      if (hooks.isStopping()) return;
      if (code === 0 || code === 128 + constants.signals.SIGINT || code === 128 + constants.signals.SIGTERM) {
        log.info(`${s.name} stopped (exit code ${code}); stopping everything`);
        hooks.onStopRequested(s.name, code);
        return;
      }
      if (Date.now() - startedAt >= policy.healthyRunMs) {
        quickCrashes = 0;
        delayMs = policy.minDelayMs;
      }
      quickCrashes += 1;
      if (quickCrashes > policy.maxQuickCrashes) {
        log.error(`${s.name} crashed ${policy.maxQuickCrashes} times in a row, each soon after starting; stopping everything`, {
          exitCode: code,
        });
        hooks.onGiveUp(s.name, code);
        return;
      }
      log.error(`${s.name} exited unexpectedly; restarting it in ${delayMs / 1000}s`, { exitCode: code, restart: quickCrashes });
      const wait = delayMs;
      delayMs = Math.min(policy.maxDelayMs, delayMs * 2);
      setTimeout(() => {
        if (hooks.isStopping()) return;
        const fresh = spawnSupervised({ ...s, log });
        hooks.onRestarted(s, fresh);
        log.info(`${s.name} restarted`, { pid: fresh.child.pid });
        watch(fresh, Date.now());
      }, wait);
    });
  };
  watch(first, Date.now());
}
