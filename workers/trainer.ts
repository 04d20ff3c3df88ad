// Trainer worker entry point (`npm run worker`, spawned by `npm start`).
// First cut: connect to Postgres, log, and shut down cleanly on SIGINT/SIGTERM,
// so the process supervisor can already manage it while the round loop lands.
import pg from "pg";

const url = process.env.DATABASE_URL;
if (!url) {
  console.error("trainer: DATABASE_URL is not set; point it at the arena's Postgres database");
  process.exit(2);
}

const client = new pg.Client({ connectionString: url, application_name: "dpo-arena-trainer" });
let stopping = false;

async function main(): Promise<void> {
  await client.connect();
  const { rows } = await client.query<{ v: string }>("select version() as v");
  console.log(JSON.stringify({ level: "info", msg: "trainer connected", server: rows[0]?.v.split(" ").slice(0, 2).join(" ") }));
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      console.log(JSON.stringify({ level: "info", msg: "trainer stopping", signal }));
      resolve();
    };
    process.on("SIGINT", () => stop("SIGINT"));
    process.on("SIGTERM", () => stop("SIGTERM"));
  });
  await client.end();
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(JSON.stringify({ level: "error", msg: "trainer failed", error: err instanceof Error ? err.message : String(err) }));
    process.exit(1);
  },
);
