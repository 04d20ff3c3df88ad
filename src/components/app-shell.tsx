import Link from "next/link";
import type { ReactNode } from "react";
import type { SessionUser } from "@/server/auth/session";
import { SignOutButton } from "./sign-out-button";

/** The signed-in frame: header with navigation, who is signed in, and sign-out. */
export function AppShell({ user, children }: { user: SessionUser; children: ReactNode }) {
  const links = [
    { href: "/arena", label: "Arena" },
    { href: "/leaderboard", label: "Leaderboard" },
    ...(user.role === "ADMIN"
      ? [
          { href: "/admin", label: "Admin" },
          { href: "/admin/rounds", label: "Rounds" },
        ]
      : []),
  ];
  return (
    <div className="min-h-screen">
      <header className="border-b border-slate-200 bg-white">
        <div className="mx-auto flex max-w-5xl flex-wrap items-center justify-between gap-3 px-4 py-3">
          <div className="flex items-center gap-4">
            <Link href="/arena" className="text-lg font-bold tracking-tight text-indigo-700">
              DPO Arena
            </Link>
            <nav aria-label="Main" className="flex gap-1">
              {links.map((link) => (
                <Link
                  key={link.href}
                  href={link.href}
                  className="rounded-md px-2 py-1 text-sm font-medium text-slate-700 hover:bg-slate-100"
                >
                  {link.label}
                </Link>
              ))}
            </nav>
          </div>
          <div className="flex items-center gap-3">
            <p className="text-sm text-slate-700" data-testid="current-user">
              <span className="font-semibold">{user.username}</span>{" "}
              <span className="ml-1 rounded-full bg-slate-100 px-2 py-0.5 text-xs font-medium uppercase text-slate-600">
                {user.role.toLowerCase()}
              </span>
            </p>
            <SignOutButton />
          </div>
        </div>
      </header>
      <main className="mx-auto max-w-5xl px-4 py-6">{children}</main>
    </div>
  );
}
