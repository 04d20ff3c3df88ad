"use client";
// Pieces the admin's settings forms share: a numeric field with its help line (which shows the
// server's message for the field instead when there is one), and the save button with its
// "Saved." / error line.
import { buttonPrimary, input, label } from "../ui";

export function NumberField(props: {
  id: string;
  label: string;
  step: string;
  value: string;
  error?: string;
  help: string;
  onChange: (value: string) => void;
}) {
  const { id, error } = props;
  return (
    <div>
      <label htmlFor={id} className={label}>
        {props.label}
      </label>
      <input
        id={id}
        type="number"
        step={props.step}
        className={`${input} mt-1`}
        value={props.value}
        aria-invalid={!!error}
        aria-describedby={`${id}-help`}
        onChange={(e) => props.onChange(e.target.value)}
      />
      <p id={`${id}-help`} className={`mt-1 text-xs ${error ? "text-red-700" : "text-slate-500"}`}>
        {error ?? props.help}
      </p>
    </div>
  );
}

export function SaveBar(props: { label: string; pending: boolean; saved: boolean; error?: string | null }) {
  return (
    <div className="flex items-center gap-3">
      <button type="submit" className={buttonPrimary} disabled={props.pending}>
        {props.label}
      </button>
      {props.saved && !props.pending && (
        <p role="status" className="text-sm text-green-700">
          Saved.
        </p>
      )}
      {props.error && (
        <p role="alert" className="text-sm text-red-700">
          {props.error}
        </p>
      )}
    </div>
  );
}
