// What a fault run prints: one JSON line per check on stdout (the CI counts "ok":true and
// "ok":false), progress on stderr.
export const log = (msg: string) => process.stderr.write(`[fault ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

let failed = 0;

export function check(scenario: string, name: string, ok: boolean, fields: Record<string, unknown> = {}) {
  if (!ok) failed++;
  process.stdout.write(`${JSON.stringify({ fault: scenario, check: name, ok, ...fields })}\n`);
}

/** How many checks have failed so far. */
export const failures = () => failed;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) await sleep(200);
  return done();
}
