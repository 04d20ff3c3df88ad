// Runs `prisma generate` offline. The Prisma CLI wants a schema-engine binary
// even for `generate`, and that binary is downloaded from a host these machines
// cannot reach; generate does not actually use it, so any existing file will do.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const env = { ...process.env };
if (!env.PRISMA_SCHEMA_ENGINE_BINARY) env.PRISMA_SCHEMA_ENGINE_BINARY = process.execPath;
env.PRISMA_HIDE_UPDATE_MESSAGE = "1";
if (!existsSync("prisma/schema.prisma")) {
  console.error("prisma/schema.prisma not found: run from the project root");
  process.exit(1);
}
const r = spawnSync("npx", ["prisma", "generate"], { stdio: "inherit", env });
process.exit(r.status ?? 1);
