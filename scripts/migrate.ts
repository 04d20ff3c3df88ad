// `npm run db:migrate`: apply pending migrations to DATABASE_URL (see README "Database").

import { applyMigrations, ensureDatabaseExists, MigrationError } from "../src/server/db/migrate.ts";
import { EnvError, requireDatabaseUrl } from "../src/server/env.ts";
import { log } from "../src/server/log.ts";

try {
  const databaseUrl = requireDatabaseUrl();
  if (await ensureDatabaseExists(databaseUrl)) log.info("created database", { url: new URL(databaseUrl).pathname });
  const result = await applyMigrations({ databaseUrl, log: (msg, fields) => log.info(msg, fields) });
  log.info("migrations done", { applied: result.applied, alreadyApplied: result.alreadyApplied.length });
} catch (err) {
  if (err instanceof MigrationError || err instanceof EnvError) {
    console.error(err.message);
  } else {
    log.error("migration run crashed", { err });
  }
  process.exit(1);
}
