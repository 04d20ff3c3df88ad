// Large exports as streams of JSON lines: each pull reads one keyset page, so memory stays at
// one batch however many votes there are, and a client that disconnects stops the reads.
export interface Page<Row, Cursor> {
  rows: Row[];
  next: Cursor | null;
}

export function jsonLinesStream<Row, Cursor>(options: {
  readPage: (after: Cursor | undefined) => Promise<Page<Row, Cursor>>;
  toLine: (row: Row) => unknown;
}): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let after: Cursor | undefined;
  let done = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (done) return;
      const page = await options.readPage(after);
      if (page.rows.length) controller.enqueue(encoder.encode(page.rows.map((r) => `${JSON.stringify(options.toLine(r))}\n`).join("")));
      if (page.next === null) {
        done = true;
        controller.close();
      } else after = page.next;
    },
  });
}
