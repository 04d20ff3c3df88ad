// Runs one checkpoint-store put in its own process, for the fsync test to trace with strace.
import { DirectoryCheckpointStore } from "../../src/server/policy/checkpoint-store.ts";

const [src, root, key] = process.argv.slice(2);
await new DirectoryCheckpointStore(root!).put(src!, key!);
