// A stand-in web process for tests and the loop benchmark: runs a PolicyRegistry whose loader is
// a real in-process ModelCache, and prints one JSON line per swap / refusal on stdout.
// Usage: node --import tsx test/loop/registry-child.ts <databaseUrl> <checkpointRoot> [pollMs]
import { initBackend } from "../../src/lm/index.ts";
import { createLogger } from "../../src/server/log.ts";
import { DirectoryCheckpointStore } from "../../src/server/policy/checkpoint-store.ts";
import { ModelCache } from "../../src/server/policy/model-cache.ts";
import { PolicyRegistry } from "../../src/server/policy/registry.ts";

const [databaseUrl, root, poll] = process.argv.slice(2);
if (!databaseUrl || !root) {
  console.error("usage: registry-child.ts <databaseUrl> <checkpointRoot> [pollMs]");
  process.exit(2);
}
await initBackend("cpu");
const cache = new ModelCache(new DirectoryCheckpointStore(root));
const emit = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ ...o, at: Date.now() })}\n`);
const log = createLogger({ component: "registry-child" }, (_level, line) => {
  const rec = JSON.parse(line) as { msg: string; version?: string; error?: string };
  if (rec.msg.startsWith("refused")) emit({ event: "refused", version: rec.version, error: rec.error });
});
const registry = new PolicyRegistry({ databaseUrl, loader: cache, pollIntervalMs: poll ? Number(poll) : 1000, log });
registry.onSwap((e) => emit({ event: "serving", id: e.to, name: e.name, via: e.via, loadMs: e.loadMs }));
await registry.start();
emit({ event: "ready", id: registry.current()?.id ?? null });
process.on("SIGTERM", () => void registry.stop().then(() => process.exit(0)));
