// Worker-thread entry for the battle sampler. On Node 20, `--import tsx` in a Worker's execArgv
// does not install tsx's loader in the thread, so the TypeScript thread file would fail with
// "Unknown file extension .ts"; registering tsx through its API here works on Node 20, 22, 24.
import { register } from "tsx/esm/api";

register();
await import(new URL("../../sampler/thread.ts", import.meta.url).href);
