"use client";
// Pieces the admin pages repeat: a card section with its heading, error lines (a query's or a
// mutation's, a form's, a field's), a list with its loading / error / empty states, a text
// field, the file-or-paste input of the import forms with their rejected-lines report, and a
// pager. Each page keeps its own wording, ids and test ids; these keep the markup alike.
import { type ReactNode, useState } from "react";
import { describeError } from "@/trpc/react";
import { buttonSecondary, card, input, label } from "../ui";

/** A card with an h2 that labels it; `aside` sits on the heading's row (filters, a search box). */
export function Section(props: { id: string; title: ReactNode; aside?: ReactNode; children: ReactNode }) {
  const heading = (
    <h2 id={props.id} className="text-lg font-semibold">
      {props.title}
    </h2>
  );
  return (
    <section aria-labelledby={props.id} className={card}>
      {props.aside ? (
        <div className="flex flex-wrap items-end justify-between gap-3">
          {heading}
          {props.aside}
        </div>
      ) : (
        heading
      )}
      {props.children}
    </section>
  );
}

/** A failed query's or mutation's message as an alert; nothing without an error. */
export function ErrorAlert({ error, className = "mt-2 text-sm" }: { error: unknown; className?: string }) {
  if (!error) return null;
  return (
    <p role="alert" className={`${className} text-red-700`}>
      {describeError(error).message}
    </p>
  );
}

type Described = ReturnType<typeof describeError>;

/** A form's error that belongs to no field (the fields show their own). */
export function FormError({ error }: { error: Described | null }) {
  if (!error || Object.keys(error.fields).length > 0) return null;
  return (
    <p role="alert" className="text-sm text-red-700">
      {error.message}
    </p>
  );
}

/** The server's message for one field, under it. */
export function FieldError({ message }: { message?: string }) {
  return message ? <p className="mt-1 text-xs text-red-700">{message}</p> : null;
}

/** A list card's body: "Loading…", the error, the empty text, or the items. */
export function QueryList<T>(props: {
  query: { isPending: boolean; error: unknown; data?: T[] };
  empty: string;
  testId: string;
  children: (item: T) => ReactNode;
}) {
  const { isPending, error, data } = props.query;
  return (
    <>
      {isPending && <p className="mt-4 text-sm text-slate-500">Loading…</p>}
      <ErrorAlert error={error} className="mt-4 text-sm" />
      {data?.length === 0 && <p className="mt-4 text-sm text-slate-500">{props.empty}</p>}
      {data && data.length > 0 && (
        <ul className="mt-4 divide-y divide-slate-200" data-testid={props.testId}>
          {data.map(props.children)}
        </ul>
      )}
    </>
  );
}

/** A labelled text input with a hint under it, replaced by the server's message when it has one. */
export function TextField(props: {
  id: string;
  text: string;
  value: string;
  onChange: (v: string) => void;
  error?: string;
  type?: string;
  hint?: string;
}) {
  return (
    <div>
      <label htmlFor={props.id} className={label}>
        {props.text}
      </label>
      <input
        id={props.id}
        type={props.type ?? "text"}
        autoComplete="off"
        className={`${input} mt-1`}
        value={props.value}
        aria-invalid={!!props.error}
        onChange={(e) => props.onChange(e.target.value)}
      />
      {props.hint && !props.error && <p className="mt-1 text-xs text-slate-500">{props.hint}</p>}
      <FieldError message={props.error} />
    </div>
  );
}

/**
 * An import form's content: a file, or text pasted below it. `onChange` gets the content and
 * the file's name (undefined once the text is edited by hand). Bump `resetKey` to clear the file
 * input after an import (a file input's value cannot be set).
 */
export function FileOrPaste(props: {
  idPrefix: string;
  accept: string;
  pasteLabel: string;
  rows: number;
  content: string;
  onChange: (content: string, filename: string | undefined) => void;
  error?: string;
  resetKey?: number;
}) {
  const { idPrefix, error } = props;
  return (
    <>
      <div>
        <label htmlFor={`${idPrefix}-file`} className={label}>
          File
        </label>
        <input
          key={props.resetKey}
          id={`${idPrefix}-file`}
          type="file"
          accept={props.accept}
          className="mt-1 text-sm"
          onChange={async (e) => {
            const file = e.target.files?.[0];
            if (file) props.onChange(await file.text(), file.name);
          }}
        />
      </div>
      <div>
        <label htmlFor={`${idPrefix}-content`} className={label}>
          {props.pasteLabel}
        </label>
        <textarea
          id={`${idPrefix}-content`}
          rows={props.rows}
          className={`${input} mt-1 font-mono text-sm`}
          value={props.content}
          aria-invalid={!!error}
          onChange={(e) => props.onChange(e.target.value, undefined)}
        />
        <FieldError message={error} />
      </div>
    </>
  );
}

/**
 * The state behind a FileOrPaste: the content and its file's name, `input` to spread onto the
 * FileOrPaste, and `clear()` to empty it after an import (the same text would only come back as
 * duplicates).
 */
export function useImportText() {
  const [content, setContent] = useState("");
  const [filename, setFilename] = useState<string | undefined>();
  const [resetKey, setResetKey] = useState(0);
  const onChange = (text: string, name: string | undefined) => {
    setContent(text);
    setFilename(name);
  };
  const clear = () => {
    setContent("");
    setFilename(undefined);
    setResetKey((k) => k + 1);
  };
  return { content, filename, clear, input: { content, onChange, resetKey } };
}

/** The lines an import rejected (the first 200): line number, reason, the line's start. */
export function RejectedLines({ rejected }: { rejected: { line: number; reason: string; excerpt: string }[] }) {
  if (rejected.length === 0) return null;
  return (
    <table className="mt-2 w-full text-left text-sm">
      <thead className="text-xs text-slate-500">
        <tr>
          <th className="py-1 pr-2">Line</th>
          <th className="py-1 pr-2">Reason</th>
          <th className="py-1">Content</th>
        </tr>
      </thead>
      <tbody>
        {rejected.slice(0, 200).map((r) => (
          <tr key={`${r.line}-${r.reason}`} className="border-t border-slate-100">
            <td className="py-1 pr-2 font-mono">{r.line}</td>
            <td className="py-1 pr-2">{r.reason}</td>
            <td className="py-1 font-mono text-xs text-slate-600 break-all">{r.excerpt}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Previous / "Page n of m" / Next, for a page index counted from 0. */
export function Pager({ page, pages, onPage }: { page: number; pages: number; onPage: (page: number) => void }) {
  return (
    <div className="mt-3 flex items-center gap-2 text-sm">
      <button type="button" className={buttonSecondary} disabled={page === 0} onClick={() => onPage(page - 1)}>
        Previous
      </button>
      <span>
        Page {page + 1} of {pages}
      </span>
      <button type="button" className={buttonSecondary} disabled={page + 1 >= pages} onClick={() => onPage(page + 1)}>
        Next
      </button>
    </div>
  );
}
