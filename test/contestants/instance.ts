// A second dpo-arena, run as its own process by contestants.test.ts: its real /v1 API (the route
// modules Next.js serves) on a free port, on its own fresh database with the shipped house model
// and its own sampler thread. Prints one JSON line {baseUrl, key} when it serves; SIGTERM stops
// it (the port closes, its database is dropped).
import { startV1World } from "../v1/world.ts";

const world = await startV1World();
const key = await world.key(["inference"], { rateLimitPerMinute: 10_000 });
process.stdout.write(`${JSON.stringify({ baseUrl: `${world.baseUrl}/v1`, key })}\n`);

let stopping = false;
process.on("SIGTERM", () => {
  if (stopping) return;
  stopping = true;
  world.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
