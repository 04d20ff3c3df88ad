import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { LoginForm } from "@/components/login-form";
import { card } from "@/components/ui";
import { getCurrentUser } from "@/server/auth/current-user";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Sign in" };

/** Only a path on this site is a place to go back to: never another origin ("//host", "https:"). */
function localPath(next: string | undefined): string | null {
  return next && /^\/(?![/\\])[^\s]*$/.test(next) ? next : null;
}

function describePage(path: string): string {
  if (path === "/arena" || path.startsWith("/arena/")) return "the arena";
  if (path.startsWith("/leaderboard")) return "the leaderboard (an admin has made it visible to signed-in users only)";
  if (path.startsWith("/admin")) return "the admin pages";
  return path;
}

/** Why the visitor is here, when a page sent them (see requireUser). */
function reasonText(reason: string | undefined, next: string | null): string | null {
  if (reason === "expired")
    return `Your session has ended (it expired, you signed out elsewhere, or an admin disabled the account). Sign in again${next ? ` to return to ${describePage(next)}` : ""}.`;
  if (reason === "signin" || next) return `You need to be signed in to open ${next ? describePage(next) : "that page"}.`;
  return null;
}

export default async function LoginPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const params = await searchParams;
  const next = localPath(typeof params.next === "string" ? params.next : undefined);
  const user = await getCurrentUser();
  if (user) redirect(next ?? (user.role === "ADMIN" ? "/admin" : "/arena"));
  const why = reasonText(typeof params.reason === "string" ? params.reason : undefined, next);
  return (
    <main className="flex min-h-screen items-center justify-center px-4 py-12">
      <div className="w-full max-w-sm">
        <h1 className="mb-1 text-center text-2xl font-bold tracking-tight text-indigo-700">DPO Arena</h1>
        <p className="mb-6 text-center text-sm text-slate-600">Sign in to compare completions.</p>
        {why && (
          <p
            role="status"
            className="mb-4 rounded-md bg-amber-50 px-3 py-2 text-sm text-amber-900 ring-1 ring-amber-200"
            data-testid="login-reason"
          >
            {why}
          </p>
        )}
        <div className={card}>
          <LoginForm next={next} />
        </div>
        <p className="mt-4 text-center text-xs text-slate-500">Accounts are created by an admin.</p>
      </div>
    </main>
  );
}
