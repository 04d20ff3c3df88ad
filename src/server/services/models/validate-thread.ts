// Runs one directory validation in a worker thread, so loading a large checkpoint and its
// forward pass never block the web process's event loop (votes keep flowing during an import).
import { parentPort, workerData } from "node:worker_threads";
import { validateWithLm } from "./lm-validate.ts";

const { dir, backend } = workerData as { dir: string; backend: Parameters<typeof validateWithLm>[1] };
validateWithLm(dir, backend).then(
  (report) => parentPort!.postMessage({ ok: true, report }),
  (err: unknown) => parentPort!.postMessage({ ok: false, error: err instanceof Error ? err.message : String(err) }),
);
