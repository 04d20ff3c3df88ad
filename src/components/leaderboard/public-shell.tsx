import Link from "next/link";
import type { ReactNode } from "react";

/** The frame for a visitor who is not signed in (the leaderboard can be public). */
export function PublicShell({ children }: { children: ReactNode }) {
  return (
    <div className="min-h-screen">
      <header className="border-b border-slate-200 bg-white">
        <div className="mx-auto flex max-w-5xl items-center justify-between gap-3 px-4 py-3">
          <span className="text-lg font-bold tracking-tight text-indigo-700">DPO Arena</span>
          <Link href="/login" className="rounded-md px-2 py-1 text-sm font-medium text-slate-700 hover:bg-slate-100">
            Sign in
          </Link>
        </div>
      </header>
      <main className="mx-auto max-w-5xl px-4 py-6">{children}</main>
    </div>
  );
}
