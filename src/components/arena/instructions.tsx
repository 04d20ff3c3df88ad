"use client";
// What "better" means, in the admin's words (arena settings). Opens by itself the first time a
// labeler comes to the arena in this browser, and again when the admin changes the text; the
// "How to judge" button opens it on demand. It sits in the page, not over it: reading it never
// blocks a vote.
import { useCallback, useEffect, useState } from "react";
import { buttonSecondary, card } from "../ui";

/** A short, stable fingerprint of the text: the admin's edit makes it new again. */
function fingerprint(text: string): string {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return (h >>> 0).toString(36);
}

export function useInstructions(userId: string, text: string | undefined) {
  const [open, setOpen] = useState(false);
  const key = `dpo-arena:instructions-read:${userId}`;
  useEffect(() => {
    if (text === undefined) return;
    let read: string | null = null;
    try {
      read = window.localStorage.getItem(key);
    } catch {
      // storage blocked (private mode): show them, and "Got it" just closes
    }
    if (read !== fingerprint(text)) setOpen(true);
  }, [key, text]);
  const dismiss = useCallback(() => {
    setOpen(false);
    if (text === undefined) return;
    try {
      window.localStorage.setItem(key, fingerprint(text));
    } catch {
      // see above
    }
  }, [key, text]);
  return { open, show: () => setOpen(true), dismiss };
}

export function Instructions({ text, onDismiss }: { text: string; onDismiss: () => void }) {
  return (
    <section aria-labelledby="instructions-heading" className={`${card} bg-indigo-50/60 ring-indigo-200`} data-testid="instructions">
      <h2 id="instructions-heading" className="text-sm font-semibold text-indigo-900">
        How to judge
      </h2>
      <div className="mt-2 space-y-1 text-sm text-slate-800">
        {text.split(/\n+/).map((line, i) => (
          <p key={i}>{line}</p>
        ))}
      </div>
      <p className="mt-2 text-xs text-slate-600 max-sm:hidden pointer-coarse:hidden">
        Keys: 1 or ← for A, 2 or → for B, 3 or ↓ tie, 4 or ↑ both bad, s skip.
      </p>
      <button type="button" className={`${buttonSecondary} mt-3`} onClick={onDismiss}>
        Got it
      </button>
    </section>
  );
}
