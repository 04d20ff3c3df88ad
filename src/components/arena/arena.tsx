"use client";
// The labeler's arena: a prompt, completions A and B streaming side by side, keyboard voting,
// the reveal of the last battle's versions, and the labeler's own stats.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useEffect, useState } from "react";
import { describeError, useTRPC } from "@/trpc/react";
import { buttonPrimary, buttonSecondary, card, input } from "../ui";
import { Instructions, useInstructions } from "./instructions";
import { type Choice, type Reveal, type SlotName, useBattleQueue } from "./use-battle-queue";

const CHOICES: { choice: Choice; label: string; keys: string }[] = [
  { choice: "A", label: "A is better", keys: "1 / ←" },
  { choice: "B", label: "B is better", keys: "2 / →" },
  { choice: "TIE", label: "Tie", keys: "3 / ↓" },
  { choice: "BOTH_BAD", label: "Both are bad", keys: "4 / ↑" },
];

const KEY_TO_CHOICE: Record<string, Choice> = {
  "1": "A",
  ArrowLeft: "A",
  "2": "B",
  ArrowRight: "B",
  "3": "TIE",
  ArrowDown: "TIE",
  "4": "BOTH_BAD",
  ArrowUp: "BOTH_BAD",
};

export function Arena({ userId }: { userId: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const q = useBattleQueue();
  const options = useQuery(trpc.arena.options.queryOptions());
  const instructions = useInstructions(userId, options.data?.instructions);
  const { current } = q;

  useEffect(() => {
    void queryClient.invalidateQueries({ queryKey: trpc.arena.myStats.queryKey() });
  }, [q.acked, queryClient, trpc]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.altKey || e.ctrlKey || e.metaKey || e.repeat) return;
      const target = e.target as HTMLElement | null;
      if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.isContentEditable)) return;
      const choice = KEY_TO_CHOICE[e.key];
      if (choice) {
        if (q.vote(choice)) e.preventDefault();
      } else if (e.key === "s" || e.key === "S") {
        if (q.skip()) e.preventDefault();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [q]);

  return (
    <div className="mt-4 space-y-4">
      {instructions.open && options.data && <Instructions text={options.data.instructions} onDismiss={instructions.dismiss} />}
      <section aria-labelledby="prompt-heading" className={card}>
        <div className="flex items-center justify-between gap-2">
          <h2 id="prompt-heading" className="text-xs font-semibold uppercase tracking-wide text-slate-500">
            Prompt
          </h2>
          <div className="flex items-center gap-3">
            {q.upcoming > 0 && (
              <span className="text-xs text-slate-400" data-testid="prefetched">
                next battle loaded
              </span>
            )}
            {!instructions.open && options.data && (
              <button type="button" className="text-xs font-semibold text-indigo-700 hover:underline" onClick={instructions.show}>
                How to judge
              </button>
            )}
          </div>
        </div>
        <p
          className="mt-2 whitespace-pre-wrap break-words text-slate-900"
          data-testid="arena-prompt"
          data-battle-id={current?.battleId ?? ""}
        >
          {current?.promptText ?? q.empty ?? q.loadError ?? "Loading the next battle…"}
        </p>
        {q.loadError && (
          <div className="mt-2 flex items-center gap-2">
            <p role="alert" className="text-sm text-red-700">
              {q.loadError}
            </p>
            <button type="button" className={buttonSecondary} onClick={() => void q.retry()}>
              Try again
            </button>
          </div>
        )}
      </section>

      <div className="grid gap-4 md:grid-cols-2">
        {(["A", "B"] as const).map((slot) => (
          <Completion key={slot} slot={slot} text={current?.texts[slot] ?? ""} done={current?.done[slot] ?? false} active={!!current} />
        ))}
      </div>
      {current?.error && (
        <p role="alert" className="text-sm text-red-700">
          {current.error}
        </p>
      )}

      {/* Sticky: on a phone the completions stack and can be taller than the screen; the vote
          buttons stay in reach at the bottom instead of below the fold. */}
      <div
        className="sticky bottom-0 z-10 -mx-4 border-t border-slate-200 bg-slate-50/95 px-4 py-3 backdrop-blur sm:mx-0 sm:rounded-lg sm:border-0 sm:bg-transparent sm:p-0 sm:backdrop-blur-none"
        data-testid="vote-bar"
      >
        <div className="grid grid-cols-3 gap-2 sm:flex sm:flex-wrap" role="group" aria-label="Your vote">
          {CHOICES.map(({ choice, label, keys }) => (
            <button
              key={choice}
              type="button"
              className={`${buttonSecondary} max-sm:px-2`}
              disabled={!current?.ready}
              onClick={() => q.vote(choice)}
            >
              {label} <Keys keys={keys} />
            </button>
          ))}
          <button type="button" className={`${buttonSecondary} max-sm:px-2`} disabled={!current} onClick={() => q.skip()}>
            Skip <Keys keys="s" />
          </button>
        </div>
        <p className="mt-2 text-xs text-slate-500" data-testid="vote-hint">
          {current && !current.ready ? (
            "Voting opens when both completions have finished."
          ) : (
            <span className="max-sm:hidden pointer-coarse:hidden">Keys: 1/← A, 2/→ B, 3/↓ tie, 4/↑ both bad, s skip.</span>
          )}
        </p>
      </div>

      {q.reveal && <RevealPanel reveal={q.reveal} />}
      <MyStats />
      {options.data?.allowLabelerPrompts && <AskForm onAsk={q.ask} />}
    </div>
  );
}

/** Key hints only where there is a keyboard to press them on. */
function Keys({ keys }: { keys: string }) {
  return <kbd className="ml-2 rounded bg-slate-100 px-1 text-xs text-slate-500 max-sm:hidden pointer-coarse:hidden">{keys}</kbd>;
}

function Completion({ slot, text, done, active }: { slot: SlotName; text: string; done: boolean; active: boolean }) {
  return (
    <section aria-label={`Completion ${slot}`} className={card}>
      <div className="flex items-center justify-between">
        <h2 className="text-xs font-semibold uppercase tracking-wide text-slate-500">Completion {slot}</h2>
        <span className="text-xs text-slate-400" data-testid={`status-${slot}`}>
          {!active ? "" : done ? "finished" : "streaming…"}
        </span>
      </div>
      {/* Plain text on purpose: model output is never interpreted as HTML. */}
      <div
        className="mt-2 max-h-80 overflow-y-auto whitespace-pre-wrap break-words font-mono text-sm text-slate-900"
        data-testid={`completion-${slot}`}
      >
        {text}
      </div>
    </section>
  );
}

const CHOICE_TEXT: Record<Reveal["choice"], string> = {
  A: "A is better",
  B: "B is better",
  TIE: "Tie",
  BOTH_BAD: "Both are bad",
  SKIP: "Skipped",
};

function RevealPanel({ reveal }: { reveal: Reveal }) {
  return (
    <section aria-label="Last battle" className={`${card} bg-slate-50`} data-testid="reveal" role="status">
      <p className="text-sm text-slate-700">
        Last battle: <span className="font-semibold">{CHOICE_TEXT[reveal.choice]}</span>
        {reveal.pending && <span className="ml-2 text-slate-400">saving…</span>}
      </p>
      {reveal.versions && (
        <p className="mt-1 text-sm text-slate-700" data-testid="reveal-versions">
          {reveal.versions.A === reveal.versions.B ? (
            <>
              Both answers came from the current model (<span className="font-mono font-semibold">{reveal.versions.A}</span>): your vote
              teaches it which of its own answers is better.
            </>
          ) : (
            <>
              A was <span className="font-mono font-semibold">{reveal.versions.A}</span>, B was{" "}
              <span className="font-mono font-semibold">{reveal.versions.B}</span>:{" "}
              {reveal.kind === "CONTESTANT"
                ? "the current model against an external model, which the leaderboard rates and training never uses."
                : "the current model against an earlier version, which is how the leaderboard rates them."}
            </>
          )}
        </p>
      )}
      {reveal.error && (
        <p role="alert" className="mt-1 text-sm text-red-700">
          {reveal.error}
        </p>
      )}
    </section>
  );
}

function MyStats() {
  const trpc = useTRPC();
  const stats = useQuery(trpc.arena.myStats.queryOptions(undefined, { staleTime: 0 }));
  const s = stats.data;
  if (!s) {
    return (
      <section aria-labelledby="my-stats-heading" className={card}>
        <h2 id="my-stats-heading" className="text-xs font-semibold uppercase tracking-wide text-slate-500">
          My stats
        </h2>
        <p className="mt-2 text-sm text-slate-500">{stats.error ? describeError(stats.error).message : "Loading…"}</p>
      </section>
    );
  }
  const { rate, compared } = s.agreement;
  return (
    <section aria-labelledby="my-stats-heading" className={card}>
      <h2 id="my-stats-heading" className="text-xs font-semibold uppercase tracking-wide text-slate-500">
        My stats
      </h2>
      <dl className="mt-2 grid grid-cols-2 gap-2 text-sm sm:grid-cols-4" data-testid="my-stats">
        <Stat label="Votes today" value={String(s.votesToday)} testId="votes-today" />
        <Stat label="Votes total" value={String(s.votesTotal)} testId="votes-total" />
        <Stat label="Skipped" value={String(s.skipped)} testId="skipped" />
        <Stat label="Agreement" value={rate === null ? "—" : `${Math.round(rate * 100)}% of ${compared}`} testId="agreement" />
      </dl>
      <p className="mt-2 text-xs text-slate-500" data-testid="agreement-help">
        {rate === null
          ? "Agreement — means no overlapping prompts yet: some prompts go to two labelers, and once someone else has voted on a prompt you voted on, this shows how often you chose the same."
          : `Agreement: how often other labelers chose the same as you, over ${compared} vote${compared === 1 ? "" : "s"} on prompts you both judged.`}
      </p>
    </section>
  );
}

function Stat({ label, value, testId }: { label: string; value: string; testId: string }) {
  return (
    <div>
      <dt className="text-xs text-slate-500">{label}</dt>
      <dd className="font-semibold text-slate-900" data-testid={testId}>
        {value}
      </dd>
    </div>
  );
}

function AskForm({ onAsk }: { onAsk: (text: string) => Promise<void> }) {
  const [text, setText] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onAsk(text);
      setText("");
    } catch (err) {
      setError(
        err instanceof Error && !("data" in err) ? err.message : (describeError(err).fields.promptText ?? describeError(err).message),
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit} className={card} aria-label="Ask your own prompt">
      <label htmlFor="own-prompt" className="text-xs font-semibold uppercase tracking-wide text-slate-500">
        Your own prompt
      </label>
      <div className="mt-2 flex flex-col gap-2 sm:flex-row">
        <input
          id="own-prompt"
          className={input}
          value={text}
          onChange={(e) => setText(e.target.value)}
          maxLength={2000}
          aria-invalid={!!error}
        />
        <button type="submit" className={buttonPrimary} disabled={busy || text.trim() === ""}>
          Ask
        </button>
      </div>
      {error && (
        <p role="alert" className="mt-1 text-sm text-red-700">
          {error}
        </p>
      )}
    </form>
  );
}
