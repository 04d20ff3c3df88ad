import Link from "next/link";
import { AppShell } from "@/components/app-shell";
import { getCurrentUser } from "@/server/auth/current-user";

/** Shown to a signed-in labeler who opened an admin page: with the usual header, so they can go on. */
export default async function Forbidden() {
  const user = await getCurrentUser();
  const body = (
    <div className="flex flex-col items-center py-16 text-center">
      <p className="text-sm font-semibold text-indigo-700">403</p>
      <h1 className="mt-2 text-2xl font-bold tracking-tight">Admins only</h1>
      <p className="mt-2 text-slate-600">Your account does not have access to this page. Ask an admin if you need it.</p>
      <nav aria-label="Where to go" className="mt-6 flex gap-4 text-sm font-semibold text-indigo-700">
        <Link href="/arena" className="hover:underline">
          Back to the arena
        </Link>
        <Link href="/leaderboard" className="hover:underline">
          Leaderboard
        </Link>
      </nav>
    </div>
  );
  return user ? <AppShell user={user}>{body}</AppShell> : <main className="px-4">{body}</main>;
}
