// STAND-IN arena: shows a pool prompt and two placeholder completions so the sign-in →
// arena path works end to end. The arena issue replaces this page with real battles.
import type { Metadata } from "next";
import { AppShell } from "@/components/app-shell";
import { buttonSecondary, card } from "@/components/ui";
import { requireUser } from "@/server/auth/current-user";
import { db } from "@/server/db/client";
import { pickPoolPrompt } from "@/server/services/stand-in/pick-pool-prompt";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Arena" };

export default async function ArenaPage() {
  const user = await requireUser();
  const prompt = await pickPoolPrompt({ db });
  return (
    <AppShell user={user}>
      <h1 className="text-2xl font-bold tracking-tight">Arena</h1>
      <p className="mt-1 text-sm text-slate-600">Read the prompt, compare the two completions, and pick the better one.</p>

      <section aria-labelledby="prompt-heading" className={`${card} mt-6`}>
        <h2 id="prompt-heading" className="text-xs font-semibold uppercase tracking-wide text-slate-500">
          Prompt
        </h2>
        <p className="mt-2 whitespace-pre-wrap text-slate-900" data-testid="arena-prompt">
          {prompt?.text ?? "The prompt pool is empty. An admin can add prompts (or run the seed)."}
        </p>
      </section>

      <div className="mt-4 grid gap-4 md:grid-cols-2">
        {(["A", "B"] as const).map((side) => (
          <section key={side} aria-label={`Completion ${side}`} className={card}>
            <h2 className="text-xs font-semibold uppercase tracking-wide text-slate-500">Completion {side}</h2>
            <p className="mt-2 text-slate-500 italic">
              Placeholder: completions appear here once the house model is served.
            </p>
          </section>
        ))}
      </div>

      <div className="mt-4 flex flex-wrap gap-2" role="group" aria-label="Your vote">
        {["A is better", "B is better", "Tie", "Both bad"].map((choice) => (
          <button key={choice} type="button" className={buttonSecondary} disabled>
            {choice}
          </button>
        ))}
      </div>
      <p className="mt-2 text-xs text-slate-500">Voting opens with the real arena.</p>
    </AppShell>
  );
}
